import { stat } from 'node:fs/promises';
import path from 'node:path';
import { deadLetterDir } from './dead-letter-log';
import { DirLock } from './dir-lock';
import { listSegments } from './segment-files';
import { scanSegment, type SegmentScan } from './segment-scan';
import type { SpillRecord } from './spill-record';

/** A segment file and which log it belongs to. */
export interface SegmentRef {
  readonly log: 'spill' | 'dead';
  readonly path: string;
  readonly name: string;
}

export interface SegmentReport extends SegmentScan {
  readonly ref: SegmentRef;
}

export type RecordVisitor = (ref: SegmentRef, offset: number, frameBytes: number, record: SpillRecord) => void;

/**
 * The segments at `target`: the file itself, or a spill directory's segments
 * followed by its dead letters'. Throws (ENOENT, ...) when `target` cannot be read.
 */
export async function findSegments(target: string): Promise<SegmentRef[]> {
  const ref = (log: SegmentRef['log'], file: string): SegmentRef => ({ log, path: file, name: path.basename(file) });
  if ((await stat(target)).isFile())
    return [ref(path.basename(path.dirname(path.resolve(target))) === 'dead' ? 'dead' : 'spill', target)];
  const dead = deadLetterDir(target);
  return [
    ...(await listSegments(target)).map((n) => ref('spill', path.join(target, n))),
    ...(await listSegments(dead)).map((n) => ref('dead', path.join(dead, n))),
  ];
}

/**
 * Reads every segment at `target` front to back, checking each frame's CRC
 * and payload, without changing anything: safe on a directory a gateway is
 * using (whose active segment may then show a write in progress as a torn tail).
 */
export async function walkSegments(target: string, visit?: RecordVisitor): Promise<SegmentReport[]> {
  const reports: SegmentReport[] = [];
  for (const ref of await findSegments(target)) {
    const scan = await scanSegment(ref.path, (offset, frameBytes, record) => {
      if (record !== undefined) visit?.(ref, offset, frameBytes, record);
    });
    reports.push({ ...scan, ref });
  }
  return reports;
}

/** The locks of a spill directory and of its dead letters, for a tool that changes them without opening the logs. */
export interface SpillDirLocks {
  /** One line per stale lock taken over (see DirLock). */
  readonly takenOver: readonly string[];
  release(): Promise<void>;
}

/**
 * Takes the lock a gateway holds on `dir` and, when it exists, on its
 * dead-letter directory, as SpillLog.open() and DeadLetterLog.open() would:
 * throws, naming the holder, while anything else has either open.
 */
export async function lockSpillDir(dir: string): Promise<SpillDirLocks> {
  await stat(dir); // ENOENT names the directory, not the lock's temporary file
  const locks = [await DirLock.acquire(dir)];
  const release = async () => {
    for (const lock of [...locks].reverse()) await lock.release();
  };
  try {
    const dead = deadLetterDir(dir);
    if (
      await stat(dead).then(
        (s) => s.isDirectory(),
        () => false,
      )
    )
      locks.push(await DirLock.acquire(dead));
  } catch (err) {
    await release();
    throw err;
  }
  const takenOver = locks.flatMap((l) =>
    l.takenOver === undefined ? [] : [`${l.takenOver.message}; moved to ${l.takenOver.quarantined}`],
  );
  return { takenOver, release };
}
