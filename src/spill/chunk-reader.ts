import type { FileHandle } from 'node:fs/promises';

/** Read-ahead per refill: one pread serves thousands of small records. */
const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/**
 * Positional reads of a file through a window of read-ahead, for walking a
 * segment front to back without a syscall per record. A fresh buffer per
 * refill, so slices handed out earlier stay valid.
 */
export class ChunkReader {
  readonly #handle: FileHandle;
  readonly #chunkBytes: number;
  #start = 0;
  #window: Buffer = Buffer.alloc(0);

  constructor(handle: FileHandle, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.#handle = handle;
    this.#chunkBytes = chunkBytes;
  }

  /**
   * `length` bytes at `offset`, or fewer when the file ends first. Read-ahead
   * stops at `limit`: bytes past the durable end may be mid-write, and a
   * window holding them would serve stale bytes once they are complete.
   */
  async read(offset: number, length: number, limit = Infinity): Promise<Buffer> {
    const from = offset - this.#start;
    if (from >= 0 && from + length <= this.#window.length) return this.#window.subarray(from, from + length);
    const want = Math.max(length, Math.min(this.#chunkBytes, limit - offset));
    const buf = Buffer.allocUnsafe(want);
    let filled = 0;
    while (filled < want) {
      const { bytesRead } = await this.#handle.read(buf, filled, want - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.#start = offset;
    this.#window = buf.subarray(0, filled);
    return this.#window.subarray(0, Math.min(length, filled));
  }
}
