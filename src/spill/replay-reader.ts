import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ChunkReader } from './chunk-reader';
import { readFrameAt } from './frame';
import type { Position } from './segment-files';
import type { SegmentLog } from './segment-log';
import { decodeSpillPayload, type SpillRecord } from './spill-record';

export interface ReadItem {
  readonly position: Position;
  readonly end: Position;
  readonly frameBytes: number;
  /** undefined for a padding frame. */
  readonly record: SpillRecord | undefined;
}

export type ReadStep =
  | { readonly kind: 'item'; readonly item: ReadItem }
  /** Nothing durable left to read; appends may add more later. */
  | { readonly kind: 'end' }
  /** A frame that passed recovery no longer reads back: replay stops here until a restart recovers it. */
  | { readonly kind: 'damaged'; readonly message: string };

/**
 * Walks the log's frames in append order from a position, reading only bytes
 * already fsync'd (a segment's durable size), through segments as they seal.
 * Reading follows the live tail: a later next() sees records appended since.
 */
export class ReplayReader {
  readonly #log: SegmentLog;
  #position: Position;
  #file: { readonly name: string; readonly handle: FileHandle; readonly chunk: ChunkReader } | undefined;

  /** `from.segment` may be '' (before the first segment) or a segment already deleted. */
  constructor(log: SegmentLog, from: Position) {
    this.#log = log;
    this.#position = from;
  }

  get position(): Position {
    return this.#position;
  }

  async next(): Promise<ReadStep> {
    for (;;) {
      const { segment, offset } = this.#position;
      const info = this.#log.segment(segment);
      if (info !== undefined && offset < info.size) {
        const frame = await readFrameAt(await this.#chunk(segment), offset, info.size);
        if (frame.kind !== 'frame') return { kind: 'damaged', message: `${segment} at ${offset}: ${frame.message}` };
        const decoded = decodeSpillPayload(frame.payload);
        if (decoded.kind === 'malformed' || decoded.kind === 'unsupported')
          return { kind: 'damaged', message: `${segment} at ${offset}: ${decoded.message}` };
        const end = { segment, offset: frame.end };
        this.#position = end;
        const record = decoded.kind === 'record' ? decoded.record : undefined;
        return { kind: 'item', item: { position: { segment, offset }, end, frameBytes: frame.end - offset, record } };
      }
      // A later segment exists only once this one is sealed: the writer appends to the last one alone.
      const next = this.#log.segmentAfter(segment);
      if (next === undefined) return { kind: 'end' };
      this.#position = { segment: next.name, offset: 0 };
    }
  }

  async close(): Promise<void> {
    await this.#file?.handle.close();
    this.#file = undefined;
  }

  async #chunk(segment: string): Promise<ChunkReader> {
    if (this.#file?.name === segment) return this.#file.chunk;
    await this.close();
    const handle = await open(path.join(this.#log.dir, segment), 'r');
    this.#file = { name: segment, handle, chunk: new ChunkReader(handle) };
    return this.#file.chunk;
  }
}
