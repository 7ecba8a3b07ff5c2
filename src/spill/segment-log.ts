import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { DiskBudget } from './disk-budget';
import { DirLock } from './dir-lock';
import { encodeFrame, FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES } from './frame';
import { GroupCommitWriter, type ActiveSegment, type AppendResult, type WrittenEntry } from './group-commit';
import { recoverSegments, type OpenReport } from './recovery';
import { ensureDir, listSegments, nodeIo, segmentName, segmentSeq, type SpillIo } from './segment-files';
import type { FrameVisitor } from './segment-scan';
import type { SpillRecord } from './spill-record';

export type { OpenReport } from './recovery';

export interface SegmentLogOptions {
  readonly dir: string;
  readonly segmentBytes: number;
  readonly budget: DiskBudget;
  readonly io?: SpillIo;
  /** Called once the fsync covering `entries` returned, before their appends resolve. */
  readonly onDurable?: (segment: string, entries: readonly WrittenEntry[]) => void;
}

export interface SegmentInfo {
  readonly name: string;
  /** Durable bytes: what readers may read. */
  readonly size: number;
  readonly records: number;
  readonly firstReceivedAt: number | undefined;
  readonly lastReceivedAt: number | undefined;
}

export interface OpenOptions {
  /** Segments named before this are deleted unread: a durable cursor is past them. */
  readonly discardBefore?: string;
  /** Sees every valid frame that survives recovery, segment by segment in order. */
  readonly visit?: (segment: string, ...frame: Parameters<FrameVisitor>) => void;
}

type Info = { -readonly [K in keyof SegmentInfo]: SegmentInfo[K] };

/**
 * A directory of append-only segment files: recovery on open(), group-commit
 * appends, rotation by size, removal of segments a reader is done with.
 * Both the spill log and the dead-letter log are one of these.
 */
export class SegmentLog {
  readonly #dir: string;
  readonly #options: SegmentLogOptions;
  readonly #io: SpillIo;
  readonly #segments: Info[] = [];
  readonly #byName = new Map<string, Info>();
  #writer: GroupCommitWriter | undefined;
  #lock: DirLock | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';
  #nextSeq = 1;

  constructor(options: SegmentLogOptions) {
    this.#options = options;
    this.#dir = options.dir;
    this.#io = options.io ?? nodeIo;
  }

  get dir(): string {
    return this.#dir;
  }

  /**
   * Takes the directory's lock (held until close(); a second opener gets an
   * error naming the holder), then recovers every segment.
   */
  async open(options: OpenOptions = {}): Promise<OpenReport> {
    if (this.#state !== 'new') throw new Error(`segment log ${this.#dir} was already opened`);
    await ensureDir(this.#dir, this.#io);
    const lock = await DirLock.acquire(this.#dir);
    try {
      const report = await this.#recover(options);
      this.#lock = lock;
      this.#state = 'open';
      const stale = lock.takenOver;
      if (stale === undefined) return report;
      return {
        ...report,
        quarantined: [stale.quarantined, ...report.quarantined],
        damage: [stale.message, ...report.damage],
      };
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Resolves after an fsync covering the record, or with why it was not written. */
  append(record: SpillRecord): Promise<AppendResult> {
    if (this.#state !== 'open' || this.#writer === undefined)
      return Promise.resolve({ ok: false, code: 'IO', message: `spill log ${this.#dir} is not open` });
    const frame = encodeFrame(record);
    if (frame.length - FRAME_HEADER_BYTES > MAX_PAYLOAD_BYTES)
      return Promise.resolve({
        ok: false,
        code: 'IO',
        message: `record of ${frame.length} bytes is too large to spill`,
      });
    const budget = this.#options.budget;
    if (!budget.tryReserve(frame.length))
      return Promise.resolve({
        ok: false,
        code: 'FULL',
        message: `spill disk cap reached: ${budget.used} of ${budget.maxBytes} bytes in use, ${frame.length} more needed`,
      });
    return this.#writer.write(frame, record.receivedAt);
  }

  /** Every segment, oldest first. */
  get segments(): readonly SegmentInfo[] {
    return [...this.#segments];
  }

  segment(name: string): SegmentInfo | undefined {
    return this.#byName.get(name);
  }

  /** The first segment named after `name` ('' for the very first). */
  segmentAfter(name: string): SegmentInfo | undefined {
    return this.#segments.find((s) => s.name > name);
  }

  /** The segment appends go to; it is never removed. */
  get activeSegment(): string | undefined {
    return this.#writer?.active?.name;
  }

  /** Deletes a sealed segment; false when it is the active one or already gone. */
  async remove(name: string): Promise<boolean> {
    const info = this.#byName.get(name);
    if (info === undefined || name === this.activeSegment) return false;
    this.#byName.delete(name);
    this.#segments.splice(this.#segments.indexOf(info), 1);
    // A crash before the unlink is durable is harmless: the next open discards it again.
    await unlink(this.#path(name));
    this.#options.budget.release(info.size);
    return true;
  }

  /** Waits for every append handed in to settle, then closes the files and releases the lock. */
  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    try {
      await this.#writer!.idle();
      await this.#writer!.active?.file.close();
      this.#options.budget.release(this.#segments.reduce((sum, s) => sum + s.size, 0));
    } finally {
      await this.#lock?.release();
    }
  }

  async #recover(options: OpenOptions): Promise<OpenReport> {
    let names = await listSegments(this.#dir);
    const floor = options.discardBefore;
    if (floor !== undefined) {
      for (const name of names.filter((n) => n < floor)) await unlink(path.join(this.#dir, name));
      names = names.filter((n) => n >= floor);
      this.#nextSeq = (segmentSeq(floor) ?? 0) + 1;
    }
    const recovered = await recoverSegments(this.#dir, names, this.#io, options.visit);
    for (const segment of recovered.segments) {
      this.#add({ ...segment });
      this.#options.budget.claim(segment.size);
    }
    const last = this.#segments.at(-1);
    if (last !== undefined) this.#nextSeq = Math.max(this.#nextSeq, segmentSeq(last.name)! + 1);
    const active: ActiveSegment | undefined =
      last === undefined
        ? undefined
        : { name: last.name, file: await this.#io.openSegment(this.#path(last.name), 'existing'), size: last.size };
    this.#writer = new GroupCommitWriter(active, {
      segmentBytes: this.#options.segmentBytes,
      budget: this.#options.budget,
      rotate: (current) => this.#rotate(current),
      onDurable: (segment, entries) => this.#durable(segment, entries),
    });
    return recovered.report;
  }

  #path(name: string): string {
    return path.join(this.#dir, name);
  }

  #add(info: Info): void {
    this.#segments.push(info);
    this.#byName.set(info.name, info);
  }

  async #rotate(current: ActiveSegment | undefined): Promise<ActiveSegment> {
    const name = segmentName(this.#nextSeq);
    const file = await this.#io.openSegment(this.#path(name), 'create');
    try {
      // The new name must be durable before any record in it is acknowledged.
      await this.#io.syncDir(this.#dir);
    } catch (err) {
      await file.close().catch(() => undefined);
      await unlink(this.#path(name)).catch(() => undefined);
      throw err;
    }
    this.#nextSeq++;
    // The sealed segment's bytes were all fdatasync'd by the batches that wrote them.
    await current?.file.close().catch(() => undefined);
    this.#add({ name, size: 0, records: 0, firstReceivedAt: undefined, lastReceivedAt: undefined });
    return { name, file, size: 0 };
  }

  #durable(segment: string, entries: readonly WrittenEntry[]): void {
    const info = this.#byName.get(segment)!;
    const last = entries[entries.length - 1];
    info.size = last.offset + last.frameBytes;
    info.records += entries.length;
    info.firstReceivedAt ??= entries[0].receivedAt;
    info.lastReceivedAt = last.receivedAt;
    this.#options.onDurable?.(segment, entries);
  }
}
