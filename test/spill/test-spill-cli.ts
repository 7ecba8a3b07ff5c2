import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inspectSpill, listSpill, verifySpill, type SpillCliOutput } from '../../src/cli/spill';
import { DeadLetterLog } from '../../src/spill/dead-letter-log';
import { DiskBudget } from '../../src/spill/disk-budget';
import { encodeFrame } from '../../src/spill/frame';
import { SpillLog } from '../../src/spill/spill-log';
import { spillRecord, tempDir } from './spill-fixtures';

const RECORDS = [
  spillRecord('r0', 64, { receivedAt: Date.UTC(2025, 0, 2, 3, 4, 5) }),
  { ...spillRecord('r1', 64), key: Buffer.from([0, 1, 2, 255]), value: null },
  spillRecord('r2', 64),
];
const DEAD = spillRecord('d0', 8, { reason: 'Broker: Topic authorization failed' });
const [F0, F1, F2] = RECORDS.map((r) => encodeFrame(r).length);
const options = (dir: string) => ({ dir, segmentBytes: F0 + F1, maxBytes: 1 << 30 });
const SEG1 = '00000000000000000001.seg';

class Captured implements SpillCliOutput {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  out = (line: string): void => void this.stdout.push(line);
  err = (line: string): void => void this.stderr.push(line);
}

/** Three spilled records (two segments), one acknowledged, and one dead letter. */
async function populate(dir: string): Promise<void> {
  const budget = new DiskBudget(1 << 30);
  const spill = new SpillLog(options(dir), { budget });
  const dead = new DeadLetterLog(options(dir), { budget });
  await spill.open();
  await dead.open();
  for (const r of RECORDS) await spill.append(r);
  await dead.append(DEAD);
  await spill.acknowledge((await spill.readBatch(1))[0].position);
  await spill.close();
  await dead.close();
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const entry = path.join(__dirname, 'spill-cli-entry.ts');
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', entry, ...args], { cwd: path.join(__dirname, '..', '..') });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe('commitlog spill list | inspect | verify', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('cli'));
    await populate(dir);
  });
  afterEach(() => cleanup());

  it('verify walks every CRC of a clean directory and a clean file, exit 0', async () => {
    const out = new Captured();
    expect(await verifySpill(dir, out)).to.equal(0);
    expect(out.stdout).to.deep.equal([
      `${path.join(dir, SEG1)}: 2 records, ${F0 + F1} bytes, ok`,
      `${path.join(dir, '00000000000000000002.seg')}: 1 records, ${F2} bytes, ok`,
      `${path.join(dir, 'dead', SEG1)}: 1 records, ${encodeFrame(DEAD).length} bytes, ok`,
      'verify: 3 segments, 4 records, clean',
    ]);
    expect(await runCli(['verify', path.join(dir, SEG1)])).to.include({ code: 0 });
  });

  it('verify prints what is damaged and exits 1 (as a process too)', async () => {
    const file = path.join(dir, SEG1);
    const bytes = await readFile(file);
    bytes[F0 + 30] ^= 0x10;
    await writeFile(file, bytes);
    const out = new Captured();
    expect(await verifySpill(dir, out)).to.equal(1);
    expect(out.stdout[1]).to.match(
      new RegExp(
        `^  DAMAGED at offset ${F0} \\(${F1} bytes, bad-crc\\): CRC-32C mismatch: header says 0x[0-9a-f]{8}, payload has 0x[0-9a-f]{8}, and no valid record follows it; on open: quarantined and cut off$`,
      ),
    );
    expect(out.stdout.at(-1)).to.equal('verify: 3 segments, 3 records, 1 damaged ranges');
    const run = await runCli(['verify', file]);
    expect(run.code).to.equal(1);
    expect(run.stdout).to.contain('DAMAGED at offset');
    expect((await runCli(['verify', path.join(dir, 'missing')])).code).to.equal(1);
  });

  it('inspect prints one JSON line per record: text as utf8, binary as base64, tombstones null, dead letters marked', async () => {
    const out = new Captured();
    expect(await inspectSpill(dir, out)).to.equal(0);
    const lines = out.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.log, l.segment, l.position, l.id])).to.deep.equal([
      ['spill', SEG1, 0, 'r0'],
      ['spill', SEG1, F0, 'r1'],
      ['spill', '00000000000000000002.seg', 0, 'r2'],
      ['dead', SEG1, 0, 'd0'],
    ]);
    expect(lines[0]).to.deep.include({
      topic: 'orders',
      key: { utf8: 'key-r0' },
      value: { utf8: `r0${'v'.repeat(62)}` },
      timestamp: 1_700_000_000_000,
      receivedAt: Date.UTC(2025, 0, 2, 3, 4, 5),
      reason: 'Local: Broker transport failure',
    });
    expect(lines[0].headers).to.deep.equal(spillRecord('r0').headers);
    expect(lines[1]).to.deep.include({ key: { base64: 'AAEC/w==' }, value: null });
    expect(lines[3]).to.deep.include({ reason: 'Broker: Topic authorization failed' });
  });

  it('list shows segments, record counts, bytes, times and the cursor', async () => {
    const out = new Captured();
    expect(await listSpill(dir, out)).to.equal(0);
    expect(out.stdout[0]).to.match(/^LOG\s+SEGMENT\s+RECORDS\s+BYTES\s+OLDEST\s+NEWEST$/);
    expect(out.stdout[1].split(/\s+/)).to.deep.equal([
      'spill',
      SEG1,
      '2',
      String(F0 + F1),
      '2025-01-02T03:04:05.000Z',
      new Date(1_700_000_000_500).toISOString(),
    ]);
    expect(out.stdout[3]).to.match(/^dead\s+00000000000000000001\.seg\s+1\s/);
    expect(out.stdout.slice(4)).to.deep.equal([`cursor: ${SEG1}@${F0}`, 'backlog: 2 records to replay']);
  });
});
