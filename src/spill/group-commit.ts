import type { DiskBudget } from './disk-budget';
import type { SegmentFile } from './segment-files';

/** How an append settled; it resolves `ok` only after an fsync that covers its bytes. */
export type AppendResult =
  | { readonly ok: true; readonly segment: string; readonly position: number }
  /** FULL: the disk cap (or the disk itself) has no room; IO: the write or fsync failed. */
  | { readonly ok: false; readonly code: 'FULL' | 'IO'; readonly message: string };

/** The segment appends go to; `size` counts durable bytes only. */
export interface ActiveSegment {
  readonly name: string;
  readonly file: SegmentFile;
  size: number;
}

export interface WrittenEntry {
  readonly offset: number;
  readonly frameBytes: number;
  readonly receivedAt: number;
}

export interface GroupCommitOptions {
  readonly segmentBytes: number;
  readonly budget: DiskBudget;
  /** Opens the next segment after `current` (undefined: the first) and fsyncs the directory. */
  readonly rotate: (current: ActiveSegment | undefined) => Promise<ActiveSegment>;
  /** Called once the fsync covering `entries` returned, before their appends resolve. */
  readonly onDurable: (segment: string, entries: readonly WrittenEntry[]) => void;
}

interface Pending {
  readonly frame: Buffer;
  readonly receivedAt: number;
  readonly resolve: (result: AppendResult) => void;
}

/**
 * Group commit: frames handed in while a write+fsync runs are written by the
 * next single writev and covered by one fdatasync. No timer: the batch is
 * whatever queued up during the previous fsync, so batches grow with load and
 * a lone append waits for one fsync only. A batch never spans two segments.
 */
export class GroupCommitWriter {
  readonly #options: GroupCommitOptions;
  #active: ActiveSegment | undefined;
  #queue: Pending[] = [];
  #running = false;
  #idle: Array<() => void> = [];
  /** Set when a failed write could not be undone: the file's tail is unknown, so nothing more is written. */
  #broken: string | undefined;

  constructor(active: ActiveSegment | undefined, options: GroupCommitOptions) {
    this.#active = active;
    this.#options = options;
  }

  get active(): ActiveSegment | undefined {
    return this.#active;
  }

  /** Queues a frame whose bytes the caller already reserved in the budget. */
  write(frame: Buffer, receivedAt: number): Promise<AppendResult> {
    if (this.#broken !== undefined) {
      this.#options.budget.release(frame.length);
      return Promise.resolve({ ok: false, code: 'IO', message: this.#broken });
    }
    return new Promise((resolve) => {
      this.#queue.push({ frame, receivedAt, resolve });
      if (this.#running) return;
      this.#running = true;
      // A microtask, not now: appends made in the same tick join the first batch.
      queueMicrotask(() => void this.#run());
    });
  }

  /** Resolves once every frame handed in so far has settled. */
  idle(): Promise<void> {
    return this.#running ? new Promise((resolve) => this.#idle.push(resolve)) : Promise.resolve();
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) await this.#commitBatch();
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #commitBatch(): Promise<void> {
    if (this.#broken !== undefined) return this.#fail(this.#queue.splice(0), 'IO', this.#broken);
    let active: ActiveSegment;
    try {
      active = await this.#target();
    } catch (err) {
      return this.#failWith(this.#queue.splice(0), err);
    }
    const batch = this.#take(active.size);
    const start = active.size;
    try {
      await writeAll(
        active.file,
        batch.map((p) => p.frame),
        start,
      );
      await active.file.datasync();
    } catch (err) {
      await this.#undo(active, start);
      return this.#failWith(batch, err);
    }
    const entries: WrittenEntry[] = [];
    let offset = start;
    for (const p of batch) {
      entries.push({ offset, frameBytes: p.frame.length, receivedAt: p.receivedAt });
      offset += p.frame.length;
    }
    active.size = offset;
    this.#options.onDurable(active.name, entries);
    for (let i = 0; i < batch.length; i++)
      batch[i].resolve({ ok: true, segment: active.name, position: entries[i].offset });
  }

  /** The segment the next batch goes to, rotating when its first frame would overflow this one. */
  async #target(): Promise<ActiveSegment> {
    const current = this.#active;
    const first = this.#queue[0].frame.length;
    if (current !== undefined && (current.size === 0 || current.size + first <= this.#options.segmentBytes))
      return current;
    this.#active = await this.#options.rotate(current);
    return this.#active;
  }

  /** Frames from the queue that fit in the segment; at least one, so a record larger than a segment still goes. */
  #take(size: number): Pending[] {
    let bytes = size + this.#queue[0].frame.length;
    let count = 1;
    while (count < this.#queue.length && bytes + this.#queue[count].frame.length <= this.#options.segmentBytes)
      bytes += this.#queue[count++].frame.length;
    return this.#queue.splice(0, count);
  }

  /** Cuts the file back to its durable end, so a half-written batch cannot sit before later records. */
  async #undo(active: ActiveSegment, durableEnd: number): Promise<void> {
    try {
      await active.file.truncate(durableEnd);
      await active.file.datasync();
    } catch (err) {
      this.#broken = `spill segment ${active.name} is unusable until restart: a failed write could not be undone (${describe(err)})`;
    }
  }

  /** A disk out of space is FULL like the cap (the client may retry later); anything else is IO. */
  #failWith(batch: readonly Pending[], err: unknown): void {
    const errno = (err as NodeJS.ErrnoException).code;
    this.#fail(batch, errno === 'ENOSPC' || errno === 'EDQUOT' ? 'FULL' : 'IO', describe(err));
  }

  #fail(batch: readonly Pending[], code: 'FULL' | 'IO', message: string): void {
    for (const p of batch) {
      this.#options.budget.release(p.frame.length);
      p.resolve({ ok: false, code, message });
    }
  }
}

async function writeAll(file: SegmentFile, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest, position);
    if (bytesWritten <= 0) throw new Error(`writev wrote nothing at ${position}`);
    position += bytesWritten;
    rest = dropBytes(rest, bytesWritten);
  }
}

/** What is left of `buffers` after a partial write of `bytes`. */
function dropBytes(buffers: Buffer[], bytes: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && bytes >= buffers[i].length) bytes -= buffers[i++].length;
  const rest = buffers.slice(i);
  if (bytes > 0) rest[0] = rest[0].subarray(bytes);
  return rest;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
