import { mkdir, open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** Where a record sits: its segment file's name and the byte offset of its frame. */
export interface Position {
  readonly segment: string;
  readonly offset: number;
}

/** Sequence numbers padded to 20 digits, so lexical order of names is append order. */
const SEGMENT_NAME = /^(\d{20})\.seg$/;

export function segmentName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.seg`;
}

export function segmentSeq(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** Segment file names in `dir`, oldest first; [] when `dir` does not exist. */
export async function listSegments(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => SEGMENT_NAME.test(n)).sort();
}

/** (a, b) in append order: negative when a comes first. */
export function comparePositions(a: Position, b: Position): number {
  return a.segment < b.segment ? -1 : a.segment > b.segment ? 1 : a.offset - b.offset;
}

/** The part of a FileHandle the writer needs; node's FileHandle fits it as it is. */
export interface SegmentFile {
  writev(buffers: Buffer[], position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file operations that make appends durable, as one small interface so
 * tests can count fsyncs or fail a write on purpose.
 */
export interface SpillIo {
  /** `create` fails if the file exists; `existing` opens it for positional writes. */
  openSegment(file: string, mode: 'create' | 'existing'): Promise<SegmentFile>;
  /** fsync of a directory, so a created, renamed or removed entry survives a crash. */
  syncDir(dir: string): Promise<void>;
}

export const nodeIo: SpillIo = {
  openSegment: (file, mode) => open(file, mode === 'create' ? 'wx' : 'r+'),
  syncDir,
};

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * mkdir -p, fsyncing the parent of every directory it creates, so a new
 * directory (and so the files in it) survives a crash.
 */
export async function ensureDir(dir: string, io: SpillIo = nodeIo): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !(await isDir(d)); d = path.dirname(d)) {
    if (path.dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    await mkdir(d, { recursive: true });
    await io.syncDir(path.dirname(d));
  }
}

function isDir(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
