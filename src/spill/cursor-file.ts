import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { segmentSeq, type Position, type SpillIo } from './segment-files';

/** Replay progress: every record before this position is acknowledged. */
export const CURSOR_FILE = 'cursor.json';
const CURSOR_VERSION = 1;

export type CursorLoad =
  | { readonly kind: 'none' }
  | { readonly kind: 'cursor'; readonly position: Position }
  | { readonly kind: 'invalid'; readonly message: string };

export type CursorSave =
  { readonly ok: true; readonly position: Position } | { readonly ok: false; readonly message: string };

export async function readCursor(dir: string): Promise<CursorLoad> {
  let text: string;
  try {
    text = await readFile(path.join(dir, CURSOR_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'invalid', message: (err as Error).message };
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; segment?: unknown; offset?: unknown };
    const { version, segment, offset } = parsed;
    if (version !== CURSOR_VERSION) return { kind: 'invalid', message: `unknown cursor version ${String(version)}` };
    if (typeof segment !== 'string' || segmentSeq(segment) === undefined)
      return { kind: 'invalid', message: `not a segment name: ${JSON.stringify(segment)}` };
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
      return { kind: 'invalid', message: `not an offset: ${JSON.stringify(offset)}` };
    return { kind: 'cursor', position: { segment, offset } };
  } catch (err) {
    return { kind: 'invalid', message: `not JSON: ${(err as Error).message}` };
  }
}

/**
 * Writes the cursor durably: temp file, fsync, rename over the old one, fsync
 * of the directory; a crash leaves either the old cursor or the new one.
 * Saves made while one is being written are coalesced into the next write,
 * which carries the latest position, so acknowledging many records costs a
 * few cursor writes, not one each.
 */
export class CursorWriter {
  readonly #dir: string;
  readonly #io: SpillIo;
  #latest: Position | undefined;
  #waiting: Array<(result: CursorSave) => void> = [];
  #running = false;
  #idle: Array<() => void> = [];

  constructor(dir: string, io: SpillIo) {
    this.#dir = dir;
    this.#io = io;
  }

  save(position: Position): Promise<CursorSave> {
    this.#latest = position;
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      if (!this.#running) {
        this.#running = true;
        void this.#run();
      }
    });
  }

  async #run(): Promise<void> {
    while (this.#waiting.length > 0) {
      const waiting = this.#waiting.splice(0);
      const position = this.#latest!;
      const result = await this.#write(position);
      for (const resolve of waiting) resolve(result);
    }
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves once every save handed in so far has settled. */
  idle(): Promise<void> {
    return this.#running ? new Promise((resolve) => this.#idle.push(resolve)) : Promise.resolve();
  }

  async #write(position: Position): Promise<CursorSave> {
    const file = path.join(this.#dir, CURSOR_FILE);
    const temp = `${file}.tmp`;
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(`${JSON.stringify({ version: CURSOR_VERSION, ...position })}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      await this.#io.syncDir(this.#dir);
      return { ok: true, position };
    } catch (err) {
      return { ok: false, message: `could not save the spill cursor: ${(err as Error).message}` };
    }
  }
}
