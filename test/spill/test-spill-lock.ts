import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DeadLetterLog, deadLetterDir } from '../../src/spill/dead-letter-log';
import { LOCK_FILE } from '../../src/spill/dir-lock';
import { SpillLog } from '../../src/spill/spill-log';
import { lockSpillDir } from '../../src/spill/spill-tools';
import { spillRecord, tempDir } from './spill-fixtures';

const options = (dir: string) => ({ dir, segmentBytes: 1 << 20, maxBytes: 1 << 30 });
const ROOT = path.join(__dirname, '..', '..');

const inUse = (dir: string, pid: number) =>
  `spill directory ${dir} is in use by process ${pid} (lock file ${path.join(dir, LOCK_FILE)}); ` +
  'two gateways must not share one spill directory';

/** Every file under `dir` with its bytes: proves a refused opener changed nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = (await readFile(file)).toString('base64');
  }
  return out;
}

async function readIds(dir: string): Promise<{ ids: string[]; report: Awaited<ReturnType<SpillLog['open']>> }> {
  const log = new SpillLog(options(dir));
  const report = await log.open();
  const ids = (await log.readBatch(1000)).map((e) => e.record.id);
  await log.close();
  return { ids, report };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

async function writeLock(dir: string, owner: Record<string, unknown>): Promise<void> {
  const lock = { hostname: os.hostname(), token: 'someone-else', since: '2024-01-01T00:00:00.000Z', ...owner };
  await writeFile(path.join(dir, LOCK_FILE), JSON.stringify(lock));
}

/** Another process that opens the log in `dir`, appends 'from-child' and holds the log until told to close it. */
async function startHolder(dir: string): Promise<{ child: ChildProcessWithoutNullStreams; close(): Promise<void> }> {
  const entry = path.join(__dirname, 'spill-lock-holder.ts');
  const child = spawn(process.execPath, ['-r', 'tsx/cjs', entry, dir], { cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const until = async (line: string) => {
    while (!out.split('\n').includes(line)) {
      if (child.exitCode !== null) throw new Error(`holder exited ${child.exitCode}: ${err}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until('open');
  return {
    child,
    close: async () => {
      child.stdin.end();
      await until('closed');
      expect(await exited, err).to.equal(0);
    },
  };
}

describe('spill directory lock', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('lock')));
  afterEach(() => cleanup());

  it('refuses a second opener, naming the directory and the holder, and changes nothing the first wrote', async () => {
    const first = new SpillLog(options(dir));
    await first.open();
    for (const id of ['a', 'b', 'c']) expect(await first.append(spillRecord(id))).to.include({ ok: true });
    const before = await snapshot(dir);

    const second = new SpillLog(options(dir));
    let refused: Error | undefined;
    await second.open().catch((err: Error) => (refused = err));
    expect(refused?.message).to.equal(inUse(dir, process.pid));
    expect(refused).to.include({ code: 'SPILL_UNAVAILABLE' });
    expect(await snapshot(dir)).to.deep.equal(before);
    expect(await second.append(spillRecord('x'))).to.include({ ok: false, code: 'IO' });

    expect(await first.append(spillRecord('d'))).to.include({ ok: true });
    await first.close();
    const { ids, report } = await readIds(dir);
    expect(ids).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(report).to.deep.include({ truncatedBytes: 0, quarantined: [], damage: [] });
  });

  it('locks the dead-letter directory too', async () => {
    const dead = new DeadLetterLog(options(dir));
    await dead.open();
    const other = new DeadLetterLog(options(dir));
    const refused = await other.open().then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(refused).to.equal(inUse(deadLetterDir(dir), process.pid));
    await dead.close();
  });

  it('holds LOCK (naming this process) while open, deletes it on close, and the directory opens again', async () => {
    const log = new SpillLog(options(dir));
    await log.open();
    const owner = JSON.parse(await readFile(path.join(dir, LOCK_FILE), 'utf8')) as { pid: number; hostname: string };
    expect(owner).to.include({ pid: process.pid, hostname: os.hostname() });
    await log.append(spillRecord('a'));
    await log.close();
    expect(existsSync(path.join(dir, LOCK_FILE))).to.equal(false);
    expect((await readdir(dir)).filter((n) => n.startsWith(LOCK_FILE))).to.deep.equal([]);

    const { ids, report } = await readIds(dir);
    expect(ids).to.deep.equal(['a']);
    expect(report.damage).to.deep.equal([]);
  });

  it('takes over a stale lock of a process that has exited, keeps its file in quarantine and reports it', async () => {
    const first = new SpillLog(options(dir));
    await first.open();
    await first.append(spillRecord('a'));
    await first.close();
    const pid = await deadPid();
    await writeLock(dir, { pid });
    const stale = await readFile(path.join(dir, LOCK_FILE), 'utf8');

    const log = new SpillLog(options(dir));
    const report = await log.open();
    expect(report.damage).to.have.length(1);
    expect(report.damage[0]).to.equal(
      `LOCK: took over a stale lock (process ${pid} on ${os.hostname()} since 2024-01-01T00:00:00.000Z is not running)`,
    );
    expect(report.quarantined).to.have.length(1);
    expect(path.dirname(report.quarantined[0])).to.equal(path.join(dir, 'quarantine'));
    expect(await readFile(report.quarantined[0], 'utf8')).to.equal(stale);
    const owner = JSON.parse(await readFile(path.join(dir, LOCK_FILE), 'utf8')) as { pid: number };
    expect(owner.pid).to.equal(process.pid);
    expect((await log.readBatch(10)).map((e) => e.record.id)).to.deep.equal(['a']);
    await log.close();
  });

  it('takes over an unreadable lock file', async () => {
    await writeFile(path.join(dir, LOCK_FILE), '');
    const log = new SpillLog(options(dir));
    const report = await log.open();
    expect(report.damage).to.deep.equal(['LOCK: took over a stale lock (its content is unreadable)']);
    await log.close();
  });

  it('takes over a lock whose pid now names a later process (a restarted container gets its old pid)', async function () {
    if (!existsSync('/proc/self/stat')) this.skip();
    await writeLock(dir, { pid: process.pid, processStart: '1' });
    const log = new SpillLog(options(dir));
    const report = await log.open();
    expect(report.damage).to.deep.equal([
      `LOCK: took over a stale lock (process ${process.pid} on ${os.hostname()} since 2024-01-01T00:00:00.000Z ` +
        'is not running (its pid now names a later process))',
    ]);
    await log.close();
  });

  it('takes over a lock from before the host last booted, even if its pid runs now', async function () {
    if (!existsSync('/proc/sys/kernel/random/boot_id')) this.skip();
    await writeLock(dir, { pid: process.pid, bootId: '00000000-0000-0000-0000-000000000000' });
    const log = new SpillLog(options(dir));
    const report = await log.open();
    expect(report.damage).to.deep.equal([
      `LOCK: took over a stale lock (process ${process.pid} on ${os.hostname()} since 2024-01-01T00:00:00.000Z: ` +
        'the host has restarted since)',
    ]);
    await log.close();
  });

  it('honours a lock from another host: its process cannot be checked from here', async () => {
    await writeLock(dir, { pid: 1234, hostname: 'gateway-elsewhere' });
    const refused = await new SpillLog(options(dir)).open().then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(refused).to.equal(
      `spill directory ${dir} is in use by process 1234 on host gateway-elsewhere (lock file ${path.join(dir, LOCK_FILE)}); ` +
        `two gateways must not share one spill directory; it cannot be checked from host ${os.hostname()}: ` +
        'if that process is gone for good, delete the lock file',
    );
    expect(await readdir(dir)).to.deep.equal([LOCK_FILE]);
  });

  it('refuses while another live process holds the log; opens once it closed, with its record', async () => {
    const holder = await startHolder(dir);
    try {
      const refused = await new SpillLog(options(dir)).open().then(
        () => undefined,
        (err: Error) => err.message,
      );
      expect(refused).to.equal(inUse(dir, holder.child.pid!));
    } finally {
      await holder.close();
    }
    const { ids, report } = await readIds(dir);
    expect(ids).to.deep.equal(['from-child']);
    expect(report.damage).to.deep.equal([]);
  });

  it('takes over from a holder killed with SIGKILL (it never released the lock)', async () => {
    const holder = await startHolder(dir);
    const pid = holder.child.pid!;
    const exited = new Promise((resolve) => holder.child.once('exit', resolve));
    holder.child.kill('SIGKILL');
    await exited;
    expect(existsSync(path.join(dir, LOCK_FILE))).to.equal(true);
    const { ids, report } = await readIds(dir);
    expect(ids).to.deep.equal(['from-child']);
    expect(report.damage).to.have.length(1);
    expect(report.damage[0]).to.match(
      new RegExp(`^LOCK: took over a stale lock \\(process ${pid} on .* is not running\\)$`),
    );
  });

  it('lockSpillDir (spill replay --dead) takes the gateway lock of the directory and of its dead letters', async () => {
    const dead = new DeadLetterLog(options(dir));
    await dead.open();
    await dead.append(spillRecord('d', 32, { reason: 'too large' }));
    const refused = await lockSpillDir(dir).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(refused).to.equal(inUse(deadLetterDir(dir), process.pid));
    expect(existsSync(path.join(dir, LOCK_FILE)), 'the directory lock is let go again').to.equal(false);
    await dead.close();

    const locks = await lockSpillDir(dir);
    expect(locks.takenOver).to.deep.equal([]);
    const log = new SpillLog(options(dir));
    expect(
      await log.open().then(
        () => 'opened',
        (err: Error) => err.message,
      ),
    ).to.equal(inUse(dir, process.pid));
    await locks.release();
    await log.open();
    await log.close();
  });
});
