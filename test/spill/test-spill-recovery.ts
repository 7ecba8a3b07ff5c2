import { crc32c } from '@node-rs/crc32';
import { expect } from 'chai';
import { appendFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeFrame } from '../../src/spill/frame';
import { scanSegment } from '../../src/spill/segment-scan';
import { SpillLog } from '../../src/spill/spill-log';
import { segmentFiles, spillRecord, tempDir } from './spill-fixtures';

const FRAME = encodeFrame(spillRecord('r00', 64)).length;
/** Three records per segment. */
const options = (dir: string) => ({ dir, segmentBytes: FRAME * 3, maxBytes: 1 << 30 });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `r${String(i).padStart(2, '0')}`);

/** 9 records in 3 segments of 3, written and closed. */
async function writeLog(dir: string, count = 9): Promise<string[]> {
  const log = new SpillLog(options(dir));
  await log.open();
  for (const id of ids(count)) expect(await log.append(spillRecord(id, 64))).to.include({ ok: true });
  await log.close();
  return (await segmentFiles(dir)).map((n) => path.join(dir, n));
}

async function readAll(dir: string): Promise<{ ids: string[]; report: Awaited<ReturnType<SpillLog['open']>> }> {
  const log = new SpillLog(options(dir));
  const report = await log.open();
  const read = await log.readBatch(1000);
  await log.close();
  return { ids: read.map((e) => e.record.id), report };
}

async function flipBit(file: string, offset: number, bit = 0): Promise<Buffer> {
  const bytes = await readFile(file);
  const original = Buffer.from(bytes);
  bytes[offset] ^= 1 << bit;
  await writeFile(file, bytes);
  return original;
}

describe('SpillLog recovery on open()', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('recovery')));
  afterEach(() => cleanup());

  it('a torn tail (last 7 bytes gone) is cut and copied to quarantine; every complete record survives', async () => {
    const segments = await writeLog(dir);
    const last = segments[2];
    const whole = await readFile(last);
    await truncate(last, whole.length - 7);

    const { ids: read, report } = await readAll(dir);
    expect(read).to.deep.equal(ids(8));
    expect(report).to.deep.include({ segments: 3, records: 8, truncatedBytes: FRAME - 7 });
    expect(report.quarantined).to.deep.equal([
      path.join(dir, 'quarantine', `00000000000000000003.seg.at-${2 * FRAME}.incomplete.bin`),
    ]);
    expect(await readFile(report.quarantined[0])).to.deep.equal(whole.subarray(2 * FRAME, whole.length - 7));
    expect(report.damage[0]).to.match(
      /^00000000000000000003\.seg at \d+: incomplete record: needs \d+ bytes, \d+ left; \d+ bytes cut$/,
    );
    expect((await stat(last)).size).to.equal(2 * FRAME);

    // Appends after recovery continue right where the valid records end.
    const log = new SpillLog(options(dir));
    expect(await log.open()).to.deep.include({ truncatedBytes: 0, quarantined: [] });
    expect(await log.append(spillRecord('new', 64))).to.deep.equal({
      ok: true,
      segment: '00000000000000000003.seg',
      position: 2 * FRAME,
    });
    expect((await log.readBatch(100)).map((e) => e.record.id)).to.deep.equal([...ids(8), 'new']);
    await log.close();
  });

  it('a torn sealed segment loses only its incomplete record; later segments are untouched', async () => {
    const segments = await writeLog(dir);
    await truncate(segments[0], FRAME * 3 - 7);
    const { ids: read, report } = await readAll(dir);
    expect(read).to.deep.equal(ids(9).filter((id) => id !== 'r02'));
    expect(report.truncatedBytes).to.equal(FRAME - 7);
  });

  it('a flipped bit inside one record of a middle segment quarantines that record alone, padded in place', async () => {
    const segments = await writeLog(dir);
    const middle = segments[1];
    const original = await flipBit(middle, FRAME + 40, 3); // the payload of r04
    const { ids: read, report } = await readAll(dir);
    expect(read).to.deep.equal(ids(9).filter((id) => id !== 'r04'));
    expect(report).to.deep.include({ records: 8, truncatedBytes: 0 });
    expect(report.quarantined).to.deep.equal([
      path.join(dir, 'quarantine', `00000000000000000002.seg.at-${FRAME}.bad-crc.bin`),
    ]);
    const copy = await readFile(report.quarantined[0]);
    expect(copy.length).to.equal(FRAME);
    expect(copy.equals(original.subarray(FRAME, 2 * FRAME))).to.equal(false); // the damaged bytes, as found
    expect(copy.subarray(0, 40).equals(original.subarray(FRAME, FRAME + 40))).to.equal(true);

    // Offsets did not move: the segment keeps its size and is clean now (one padding frame).
    expect((await stat(middle)).size).to.equal(FRAME * 3);
    expect(await scanSegment(middle)).to.deep.include({ records: 2, paddingFrames: 1, damage: [] });
    expect((await readAll(dir)).report).to.deep.include({ records: 8, quarantined: [] });

    // Replay passes over the padding: acknowledging everything deletes both sealed segments.
    const log = new SpillLog(options(dir));
    await log.open();
    for (const e of await log.readBatch(100)) expect(await log.acknowledge(e.position)).to.deep.equal({ ok: true });
    expect(log.backlog).to.deep.equal({ events: 0, bytes: 0, oldestReceivedAt: undefined });
    await log.close();
    expect(await segmentFiles(dir)).to.deep.equal(['00000000000000000003.seg']);
  });

  it('a flipped bit in a length field cuts the rest of that segment (nothing after it can be framed)', async () => {
    const segments = await writeLog(dir);
    const original = await flipBit(segments[1], FRAME + 1, 2); // r04's length field
    const { ids: read, report } = await readAll(dir);
    expect(read).to.deep.equal(['r00', 'r01', 'r02', 'r03', 'r06', 'r07', 'r08']);
    expect(report).to.deep.include({ truncatedBytes: FRAME * 2 });
    expect(report.quarantined).to.have.length(1);
    const copy = await readFile(report.quarantined[0]);
    expect(copy.subarray(2).equals(original.subarray(FRAME + 2))).to.equal(true);
  });

  it('a zero-filled tail (size grew, data never landed) is cut', async () => {
    const segments = await writeLog(dir, 8);
    await appendFile(segments[2], Buffer.alloc(100));
    const { ids: read, report } = await readAll(dir);
    expect(read).to.deep.equal(ids(8));
    expect(report.truncatedBytes).to.equal(100);
    expect(report.damage[0]).to.contain('implausible payload length 0');
  });

  it('refuses to open, changing nothing, when a valid record has a newer format version', async () => {
    const segments = await writeLog(dir, 2);
    const bytes = await readFile(segments[0]);
    bytes[8] = 2; // version byte of r00's payload; CRC recomputed so only the version is new
    bytes.writeUInt32LE(crc32c(bytes.subarray(8, FRAME)), 4);
    await writeFile(segments[0], bytes);
    const log = new SpillLog(options(dir));
    let error: Error | undefined;
    await log.open().catch((err: Error) => (error = err));
    expect(error?.message).to.match(
      /holds records this build cannot read: .*format version 2: this build reads version 1/,
    );
    expect(await readFile(segments[0])).to.deep.equal(bytes);
    expect(await readdir(dir)).to.not.include('quarantine');
  });
});
