import { AckTracker } from './ack-tracker';
import { CursorWriter } from './cursor-file';
import { DiskBudget } from './disk-budget';
import type { AppendResult, WrittenEntry } from './group-commit';
import { checkSpillOptions, type SpillDeps, type SpillOptions } from './options';
import { ReplayReader, type ReadItem } from './replay-reader';
import { nodeIo, type Position } from './segment-files';
import { SegmentLog, type OpenReport } from './segment-log';
import { openCursor } from './spill-open';
import type { SpillRecord } from './spill-record';

export interface ReadEntry {
  readonly position: Position;
  readonly record: SpillRecord;
}

/** Events waiting for replay (read or not, not yet acknowledged): the saturation signal. */
export interface Backlog {
  readonly events: number;
  /** Their bytes on disk, frames included. */
  readonly bytes: number;
  /** receivedAt of the first of them in append order. */
  readonly oldestReceivedAt: number | undefined;
}

export type AckResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface SpillOpenReport extends OpenReport {
  /** Where replay resumes; undefined: at the first record. */
  readonly cursor: Position | undefined;
  readonly backlog: Backlog;
}

/**
 * The spill log (DESIGN §4): append() makes a record durable (group commit);
 * readBatch() hands records out for replay in append order, live tail
 * included; acknowledge() moves a durable cursor over the acknowledged prefix
 * and deletes segments whose every record is acknowledged.
 */
export class SpillLog {
  readonly #log: SegmentLog;
  readonly #cursor: CursorWriter;
  readonly #tracker = new AckTracker();
  #reader: ReplayReader | undefined;
  /** A record read past the end of the last batch, handed out first next time. */
  #stash: ReadItem | undefined;
  /** Durable records not yet handed out (the stash included). */
  #unread = 0;
  /** receivedAt of the first of them, when known. */
  #head: number | undefined;
  #events = 0;
  #bytes = 0;
  #damage: string | undefined;
  #reads: Promise<unknown> = Promise.resolve();
  #waiters: Array<() => void> = [];
  #closed = false;

  constructor(options: SpillOptions, deps: SpillDeps = {}) {
    checkSpillOptions(options);
    const io = deps.io ?? nodeIo;
    this.#log = new SegmentLog({
      dir: options.dir,
      segmentBytes: options.segmentBytes,
      budget: deps.budget ?? new DiskBudget(options.maxBytes),
      io,
      onDurable: (_segment, entries) => this.#appended(entries),
    });
    this.#cursor = new CursorWriter(options.dir, io);
  }

  /**
   * Locks the directory against every other opener until close() (see
   * dir-lock.ts), recovers it (see docs/spill-format.md) and rebuilds the backlog.
   */
  async open(): Promise<SpillOpenReport> {
    let opened;
    try {
      opened = await openCursor(this.#log, this.#cursor);
    } catch (err) {
      // Lets go of the lock, should the segments have opened before the cursor failed.
      await this.#log.close().catch(() => undefined);
      throw err;
    }
    this.#reader = new ReplayReader(this.#log, opened.cursor ?? { segment: '', offset: 0 });
    this.#unread = this.#events = opened.events;
    this.#bytes = opened.bytes;
    this.#head = opened.firstReceivedAt;
    return { ...opened.report, cursor: opened.cursor, backlog: this.backlog };
  }

  append(record: SpillRecord): Promise<AppendResult> {
    return this.#log.append(record);
  }

  /** Up to `max` records after the last one handed out, in append order; [] when none is durable yet. */
  readBatch(max: number): Promise<ReadEntry[]> {
    const batch = this.#reads.then(() => this.#readBatch(max));
    this.#reads = batch.catch(() => undefined);
    return batch;
  }

  /**
   * Marks a record handed out by readBatch as replayed. The cursor moves, and
   * this resolves after it is durable, once every record before this one is
   * acknowledged too; until then this resolves at once and a crash replays it.
   */
  async acknowledge(position: Position): Promise<AckResult> {
    if (this.#closed) return { ok: false, message: 'the spill log is closed' };
    const acked = this.#tracker.acknowledge(position);
    if (acked.kind === 'unknown')
      return { ok: false, message: `no record handed out at ${position.segment}@${position.offset} awaits one` };
    if (acked.kind === 'again') return { ok: true };
    this.#events--;
    this.#bytes -= acked.bytes;
    if (acked.advancedTo === undefined) return { ok: true };
    const saved = await this.#cursor.save(acked.advancedTo);
    if (!saved.ok) return saved;
    await this.#collect(saved.position);
    return { ok: true };
  }

  get backlog(): Backlog {
    const oldestUnread =
      this.#head ?? (this.#unread > 0 ? this.#log.segment(this.#reader!.position.segment)?.firstReceivedAt : undefined);
    return {
      events: this.#events,
      bytes: this.#bytes,
      oldestReceivedAt: this.#tracker.oldestReceivedAt ?? oldestUnread,
    };
  }

  /** Why replay is stuck (a frame that no longer reads back), or undefined. */
  get damage(): string | undefined {
    return this.#damage;
  }

  /** Resolves once a record is there to read (or the log closes): the replayer's idle wait. */
  whenReadable(): Promise<void> {
    if (this.#unread > 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Lets pending appends and cursor writes finish, then closes the files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    await this.#reads;
    await this.#log.close();
    await this.#cursor.idle();
    await this.#reader?.close();
  }

  async #readBatch(max: number): Promise<ReadEntry[]> {
    const out: ReadEntry[] = [];
    if (this.#closed || this.#reader === undefined) return out;
    for (;;) {
      let item = this.#stash;
      this.#stash = undefined;
      if (item === undefined) {
        const step = await this.#reader
          .next()
          .catch((err: Error) => ({ kind: 'damaged', message: err.message }) as const);
        this.#damage = step.kind === 'damaged' ? step.message : undefined;
        if (step.kind !== 'item') break;
        item = step.item;
      }
      if (item.record === undefined) {
        this.#tracker.pass(item.end);
        continue;
      }
      // Read one past `max`: it tells the backlog the oldest unread receivedAt.
      if (out.length >= max) {
        this.#stash = item;
        break;
      }
      out.push({ position: item.position, record: item.record });
      this.#tracker.track(item.position, item.end, item.record.receivedAt, item.frameBytes);
      this.#unread--;
    }
    if (this.#stash !== undefined) this.#head = this.#stash.record!.receivedAt;
    else if (this.#unread === 0) this.#head = undefined;
    return out;
  }

  /** Runs synchronously after the fsync that covers `entries`, before their appends resolve. */
  #appended(entries: readonly WrittenEntry[]): void {
    if (this.#unread === 0) this.#head = entries[0].receivedAt;
    this.#unread += entries.length;
    this.#events += entries.length;
    for (const e of entries) this.#bytes += e.frameBytes;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Deletes sealed segments the durable cursor has passed entirely. */
  async #collect(cursor: Position): Promise<void> {
    for (const s of this.#log.segments) {
      if (s.name > cursor.segment || (s.name === cursor.segment && cursor.offset < s.size)) break;
      // A failed unlink leaves a file that the next open() discards: it is before the cursor.
      await this.#log.remove(s.name).catch(() => false);
    }
  }
}
