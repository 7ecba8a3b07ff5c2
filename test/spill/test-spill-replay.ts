import { expect } from 'chai';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeFrame } from '../../src/spill/frame';
import { SpillLog, type ReadEntry } from '../../src/spill/spill-log';
import { segmentFiles, spillRecord, tempDir } from './spill-fixtures';

const FRAME = encodeFrame(spillRecord('r00', 64)).length;
const options = (dir: string) => ({ dir, segmentBytes: FRAME * 3, maxBytes: 1 << 30 });
const at = (id: string, receivedAt: number) => spillRecord(id, 64, { receivedAt });

async function appendAll(log: SpillLog, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++)
    expect(await log.append(at(`r${String(i).padStart(2, '0')}`, 1000 + i))).to.include({ ok: true });
}
const ids = (entries: ReadEntry[]) => entries.map((e) => e.record.id);

describe('SpillLog replay: readBatch, acknowledge, durable cursor', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('replay')));
  afterEach(() => cleanup());

  it('reads in append order from the cursor on, and follows the live tail', async () => {
    const log = new SpillLog(options(dir));
    await log.open();
    await appendAll(log, 5);
    expect(ids(await log.readBatch(3))).to.deep.equal(['r00', 'r01', 'r02']);
    expect(ids(await log.readBatch(10))).to.deep.equal(['r03', 'r04']);
    expect(await log.readBatch(10)).to.deep.equal([]);
    let readable = false;
    const wait = log.whenReadable().then(() => (readable = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(readable).to.equal(false);
    await appendAll(log, 2, 5);
    await wait;
    expect(ids(await log.readBatch(10))).to.deep.equal(['r05', 'r06']);
    await log.close();
  });

  it('keeps the backlog (events, bytes, oldest receivedAt) through reads, acks and reopen', async () => {
    const log = new SpillLog(options(dir));
    await log.open();
    expect(log.backlog).to.deep.equal({ events: 0, bytes: 0, oldestReceivedAt: undefined });
    await appendAll(log, 5);
    expect(log.backlog).to.deep.equal({ events: 5, bytes: 5 * FRAME, oldestReceivedAt: 1000 });
    const batch = await log.readBatch(2);
    expect(log.backlog.oldestReceivedAt).to.equal(1000);
    await log.acknowledge(batch[0].position);
    expect(log.backlog).to.deep.equal({ events: 4, bytes: 4 * FRAME, oldestReceivedAt: 1001 });
    await log.acknowledge(batch[1].position);
    expect(log.backlog).to.deep.equal({ events: 3, bytes: 3 * FRAME, oldestReceivedAt: 1002 });
    for (const e of await log.readBatch(10)) await log.acknowledge(e.position);
    expect(log.backlog).to.deep.equal({ events: 0, bytes: 0, oldestReceivedAt: undefined });
    await appendAll(log, 2, 5);
    expect(log.backlog).to.deep.equal({ events: 2, bytes: 2 * FRAME, oldestReceivedAt: 1005 });
    await log.close();

    const again = new SpillLog(options(dir));
    const report = await again.open();
    expect(report.backlog).to.deep.equal({ events: 2, bytes: 2 * FRAME, oldestReceivedAt: 1005 });
    expect(ids(await again.readBatch(10))).to.deep.equal(['r05', 'r06']);
    await again.close();
  });

  it('moves the cursor only over the acknowledged prefix when acks come out of order; a reopen resumes there', async () => {
    const log = new SpillLog(options(dir));
    await log.open();
    await appendAll(log, 8);
    const batch = await log.readBatch(8);
    for (const i of [4, 2, 1]) expect(await log.acknowledge(batch[i].position)).to.deep.equal({ ok: true });
    expect(await readdir(dir)).to.not.include('cursor.json');
    expect(log.backlog.events).to.equal(5);
    expect(await log.acknowledge(batch[0].position)).to.deep.equal({ ok: true });
    // r00..r02 acknowledged: the cursor sits at the end of segment 1 (r03 opens segment 2).
    expect(JSON.parse(await readFile(path.join(dir, 'cursor.json'), 'utf8'))).to.deep.equal({
      version: 1,
      segment: '00000000000000000001.seg',
      offset: 3 * FRAME,
    });
    // Segment 1 held r00..r02, all acknowledged: deleted. Segments 2 and 3 remain.
    expect(await segmentFiles(dir)).to.deep.equal(['00000000000000000002.seg', '00000000000000000003.seg']);
    expect(await log.acknowledge(batch[0].position)).to.deep.equal({ ok: true });
    expect(await log.acknowledge({ segment: '00000000000000000009.seg', offset: 0 })).to.include({ ok: false });
    await log.close();

    const again = new SpillLog(options(dir));
    const report = await again.open();
    expect(report.cursor).to.deep.equal({ segment: '00000000000000000001.seg', offset: 3 * FRAME });
    expect(report).to.deep.include({ segments: 2, records: 5 });
    // r04 was acknowledged but r03 was not: at-least-once replays both.
    expect(ids(await again.readBatch(10))).to.deep.equal(['r03', 'r04', 'r05', 'r06', 'r07']);
    await again.close();
  });

  it('deletes every fully acknowledged sealed segment but never the active one', async () => {
    const log = new SpillLog(options(dir));
    await log.open();
    await appendAll(log, 7);
    for (const e of await log.readBatch(7)) await log.acknowledge(e.position);
    expect(await segmentFiles(dir)).to.deep.equal(['00000000000000000003.seg']);
    await log.close();
    const again = new SpillLog(options(dir));
    expect(await again.open()).to.deep.include({
      segments: 1,
      records: 1,
      backlog: { events: 0, bytes: 0, oldestReceivedAt: undefined },
    });
    await appendAll(again, 3, 7);
    expect(ids(await again.readBatch(10))).to.deep.equal(['r07', 'r08', 'r09']);
    await again.close();
  });

  it('quarantines an unreadable cursor file and replays from the first record', async () => {
    const log = new SpillLog(options(dir));
    await log.open();
    await appendAll(log, 2);
    await log.acknowledge((await log.readBatch(1))[0].position);
    await log.close();
    await writeFile(path.join(dir, 'cursor.json'), '{"version":1,"segm');
    const again = new SpillLog(options(dir));
    const report = await again.open();
    expect(report.cursor).to.equal(undefined);
    expect(report.quarantined[0]).to.match(/quarantine\/cursor\.json\.\d+\.invalid$/);
    expect(report.damage[0]).to.match(/^cursor\.json: not JSON/);
    expect(ids(await again.readBatch(10))).to.deep.equal(['r00', 'r01']);
    await again.close();
  });

  it('fixes a cursor that no longer fits towards replaying more: past a cut tail, off a boundary, past every segment', async () => {
    const log = new SpillLog(options(dir));
    await log.open();
    await appendAll(log, 3);
    for (const e of await log.readBatch(3)) await log.acknowledge(e.position);
    await log.close();
    const seg1 = path.join(dir, '00000000000000000001.seg');
    // Damage r01's length field: recovery cuts segment 1 at FRAME, before the cursor at 3 * FRAME.
    const bytes = await readFile(seg1);
    bytes[FRAME + 2] ^= 0x40;
    await writeFile(seg1, bytes);
    let again = new SpillLog(options(dir));
    let report = await again.open();
    expect(report.cursor).to.deep.equal({ segment: '00000000000000000001.seg', offset: FRAME });
    expect(report.damage.at(-1)).to.equal(
      `cursor.json: 00000000000000000001.seg@${3 * FRAME} is not a record boundary; now @${FRAME}`,
    );
    // Without the fix this record, appended below the old cursor, would never be replayed.
    expect(await again.append(at('new', 2000))).to.deep.include({ position: FRAME });
    expect(ids(await again.readBatch(10))).to.deep.equal(['new']);
    await again.close();

    await writeFile(
      path.join(dir, 'cursor.json'),
      JSON.stringify({ version: 1, segment: '00000000000000000001.seg', offset: 5 }),
    );
    again = new SpillLog(options(dir));
    report = await again.open();
    expect(report.cursor).to.deep.equal({ segment: '00000000000000000001.seg', offset: 0 });
    expect(report.backlog.events).to.equal(2);
    expect(ids(await again.readBatch(10))).to.deep.equal(['r00', 'new']);
    await again.close();

    await writeFile(
      path.join(dir, 'cursor.json'),
      JSON.stringify({ version: 1, segment: '00000000000000000007.seg', offset: 0 }),
    );
    again = new SpillLog(options(dir));
    report = await again.open();
    expect(report.cursor).to.equal(undefined);
    expect(report.damage.at(-1)).to.match(
      /names 00000000000000000007\.seg, after the last segment 00000000000000000001\.seg/,
    );
    expect(ids(await again.readBatch(10))).to.deep.equal(['r00', 'new']);
    await again.close();
  });
});
