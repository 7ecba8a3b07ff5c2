import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CommitlogError } from '../errors';
import { ensureDir } from './segment-files';

/** Names the process that has a segment directory open. */
export const LOCK_FILE = 'LOCK';

/** What a lock file holds. */
export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  /** Linux: /proc/sys/kernel/random/boot_id; a lock from an earlier boot is stale. */
  readonly bootId?: string;
  /** Linux: the process's start time (clock ticks after boot, /proc/PID/stat); tells a reused pid apart. */
  readonly processStart?: string;
  /** This acquisition: release() deletes the lock file only while it is still this one. */
  readonly token: string;
  readonly since: string;
}

type Found =
  { readonly kind: 'gone' } | { readonly kind: 'lock'; readonly ino: number; readonly owner: LockOwner | undefined };

type Verdict = { readonly stale: false } | { readonly stale: true; readonly why: string };

/**
 * An exclusive lock on a directory for as long as a log has it open, so two
 * gateways (or a gateway and `commitlog spill replay`) never recover, append
 * to or delete the same segments. The lock file is written in full under a
 * temporary name and then hard-linked to LOCK: link(2) fails if LOCK exists,
 * like O_EXCL, and nobody ever reads a half-written lock. A lock whose owner
 * is provably gone (same host: the pid is not running, or now names a process
 * started later, or the host rebooted since) is stale and is taken over; its
 * file is kept in `quarantine/`. A lock from another host cannot be checked and
 * is honoured. Advisory: it only keeps out processes that take it too.
 */
export class DirLock {
  readonly file: string;
  /** Why a stale lock was taken over and where its file went; undefined when there was none. */
  readonly takenOver: { readonly message: string; readonly quarantined: string } | undefined;
  readonly #token: string;
  #released = false;

  private constructor(file: string, token: string, takenOver: DirLock['takenOver']) {
    this.file = file;
    this.#token = token;
    this.takenOver = takenOver;
  }

  /** Takes the lock of `dir` (which must exist) or throws SPILL_UNAVAILABLE naming who holds it. */
  static async acquire(dir: string): Promise<DirLock> {
    const file = path.join(dir, LOCK_FILE);
    const me = await thisProcess();
    const temp = path.join(dir, `${LOCK_FILE}.${me.pid}.${me.token}.tmp`);
    await writeFile(temp, `${JSON.stringify(me)}\n`, { flag: 'wx' });
    let takenOver: DirLock['takenOver'];
    try {
      // A few rounds: each one that loses a race sees a changed file and looks again.
      for (let round = 0; round < 5; round++) {
        try {
          await link(temp, file);
          return new DirLock(file, me.token, takenOver);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const found = await readLock(file);
        if (found.kind === 'gone') continue;
        const verdict = await judge(found.owner, me);
        if (!verdict.stale) throw inUse(dir, file, found.owner!, me);
        const quarantined = await moveAside(file, found.ino, path.join(dir, 'quarantine'), me.pid);
        if (quarantined !== undefined)
          takenOver = { message: `${LOCK_FILE}: took over a stale lock (${verdict.why})`, quarantined };
      }
      throw new CommitlogError('SPILL_UNAVAILABLE', `cannot take the lock file ${file}: it keeps changing`);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  /** Deletes the lock file, unless another process has taken it over meanwhile: then it is theirs. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const found = await readLock(this.file);
    if (found.kind === 'lock' && found.owner?.token === this.#token) await unlink(this.file).catch(() => undefined);
  }
}

function inUse(dir: string, file: string, owner: LockOwner, me: LockOwner): CommitlogError {
  const where = owner.hostname === me.hostname ? '' : ` on host ${owner.hostname}`;
  const foreign =
    where === ''
      ? ''
      : `; it cannot be checked from host ${me.hostname}: if that process is gone for good, delete the lock file`;
  return new CommitlogError(
    'SPILL_UNAVAILABLE',
    `spill directory ${dir} is in use by process ${owner.pid}${where} (lock file ${file}); ` +
      `two gateways must not share one spill directory${foreign}`,
  );
}

async function thisProcess(): Promise<LockOwner> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const processStart = await processStartOf(process.pid);
  return {
    pid: process.pid,
    hostname: os.hostname(),
    ...(bootId === '' ? {} : { bootId }),
    ...(processStart === undefined ? {} : { processStart }),
    token: randomUUID(),
    since: new Date().toISOString(),
  };
}

/** Field 22 of /proc/PID/stat: when the process started; undefined where /proc cannot tell. */
async function processStartOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // Field 2 (the command) is in parentheses and may hold spaces: count fields after the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

async function judge(owner: LockOwner | undefined, me: LockOwner): Promise<Verdict> {
  if (owner === undefined) return { stale: true, why: 'its content is unreadable' };
  if (owner.hostname !== me.hostname) return { stale: false };
  const held = `process ${owner.pid} on ${owner.hostname} since ${owner.since}`;
  if (owner.bootId !== undefined && me.bootId !== undefined && owner.bootId !== me.bootId)
    return { stale: true, why: `${held}: the host has restarted since` };
  if (!alive(owner.pid)) return { stale: true, why: `${held} is not running` };
  // The pid runs, but is it the same process? A restarted container's gateway often gets its old pid.
  const start = await processStartOf(owner.pid);
  if (start !== undefined && owner.processStart !== undefined && start !== owner.processStart)
    return { stale: true, why: `${held} is not running (its pid now names a later process)` };
  return { stale: false };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(file: string): Promise<Found> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    throw err;
  }
  try {
    // One handle for both: the inode and the text are of the same file.
    const { ino } = await handle.stat();
    const text = await handle.readFile('utf8');
    return { kind: 'lock', ino, owner: parseOwner(text) };
  } finally {
    await handle.close();
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    const ok =
      Number.isSafeInteger(owner.pid) &&
      owner.pid! > 0 &&
      typeof owner.hostname === 'string' &&
      typeof owner.token === 'string';
    return ok ? (owner as LockOwner) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Renames the stale lock file (inode `ino`) into quarantine. Another process
 * may have taken it over between our read and this rename: then what we moved
 * is their fresh lock, and it goes back (link fails only if yet another one
 * took LOCK meanwhile). Undefined: LOCK was not the stale file; look again.
 */
async function moveAside(file: string, ino: number, quarantine: string, pid: number): Promise<string | undefined> {
  await ensureDir(quarantine);
  const aside = path.join(quarantine, `${LOCK_FILE}.${Date.now()}.${pid}.stale`);
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const moved = await readLock(aside);
  if (moved.kind === 'lock' && moved.ino === ino) return aside;
  await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return undefined;
}
