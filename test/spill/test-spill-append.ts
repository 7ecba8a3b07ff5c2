import { expect } from 'chai';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DeadLetterLog, deadLetterDir } from '../../src/spill/dead-letter-log';
import { DiskBudget } from '../../src/spill/disk-budget';
import { encodeFrame } from '../../src/spill/frame';
import { SpillLog } from '../../src/spill/spill-log';
import { CountingIo, segmentFiles, spillRecord, tempDir } from './spill-fixtures';

const options = (dir: string, segmentBytes = 1 << 20, maxBytes = 1 << 30) => ({ dir, segmentBytes, maxBytes });

describe('SpillLog appends', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir('append')));
  afterEach(() => cleanup());

  it('resolves after fsync with the frame position; the bytes on disk are the frames, and a reopen reads them back', async () => {
    const records = [spillRecord('a'), spillRecord('b', 0, { value: null }), spillRecord('c', 500)];
    const log = new SpillLog(options(dir));
    expect(await log.open()).to.deep.include({ segments: 0, records: 0, truncatedBytes: 0, quarantined: [] });
    const results = [];
    for (const r of records) results.push(await log.append(r));
    await log.close();

    const frames = records.map(encodeFrame);
    const [segment] = await segmentFiles(dir);
    expect(segment).to.equal('00000000000000000001.seg');
    expect(await readFile(path.join(dir, segment))).to.deep.equal(Buffer.concat(frames));
    expect(results).to.deep.equal([
      { ok: true, segment, position: 0 },
      { ok: true, segment, position: frames[0].length },
      { ok: true, segment, position: frames[0].length + frames[1].length },
    ]);

    const again = new SpillLog(options(dir));
    const report = await again.open();
    expect(report).to.deep.include({ segments: 1, records: 3, truncatedBytes: 0, cursor: undefined });
    expect(report.backlog).to.deep.equal({
      events: 3,
      bytes: frames.reduce((n, f) => n + f.length, 0),
      oldestReceivedAt: records[0].receivedAt,
    });
    const read = await again.readBatch(10);
    expect(read.map((e) => e.record)).to.deep.equal(records);
    expect(read.map((e) => e.position.offset)).to.deep.equal(results.map((r) => r.ok && r.position));
    await again.close();
  });

  it('group commit: 1000 concurrent appends cost a handful of fsyncs, not 1000', async () => {
    const io = new CountingIo();
    const log = new SpillLog(options(dir), { io });
    await log.open();
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(spillRecord(`g${i}`, 200))));
    expect(results.every((r) => r.ok)).to.equal(true);
    // One batch for what was appended in the same tick; stragglers, if any, share a second.
    expect(io.datasyncs).to.be.at.most(3);
    expect(io.writevs).to.equal(io.datasyncs);

    // Appends that arrive while an fsync runs are written together by the next one.
    const before = io.datasyncs;
    const waves: Promise<unknown>[] = [];
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 50; i++) waves.push(log.append(spillRecord(`w${wave}-${i}`, 200)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(waves);
    expect(io.datasyncs - before).to.be.below(20);
    const read = await log.readBatch(5000);
    expect(read.map((e) => e.record.id)).to.deep.equal([
      ...Array.from({ length: 1000 }, (_, i) => `g${i}`),
      ...Array.from({ length: 1000 }, (_, i) => `w${Math.floor(i / 50)}-${i % 50}`),
    ]);
    await log.close();
  });

  it('rotates when the next write would pass segmentBytes, fsyncing the directory for every new file', async () => {
    const io = new CountingIo();
    const frame = encodeFrame(spillRecord('r00', 100)).length;
    const log = new SpillLog(options(dir, frame * 3), { io });
    await log.open();
    // Concurrent: one batch still never spans two segments.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => log.append(spillRecord(`r${i}`.padEnd(3, '0'), 100))),
    );
    await log.close();
    expect(results.map((r) => r.ok && `${r.segment}@${r.position / frame}`)).to.deep.equal([
      '00000000000000000001.seg@0',
      '00000000000000000001.seg@1',
      '00000000000000000001.seg@2',
      '00000000000000000002.seg@0',
      '00000000000000000002.seg@1',
      '00000000000000000002.seg@2',
      '00000000000000000003.seg@0',
      '00000000000000000003.seg@1',
      '00000000000000000003.seg@2',
      '00000000000000000004.seg@0',
    ]);
    expect(io.created).to.deep.equal(await segmentFiles(dir));
    for (const name of io.created) expect((await stat(path.join(dir, name))).size).to.be.at.most(frame * 3);
    expect(io.dirSyncs.filter((d) => d === dir)).to.have.length.at.least(4);

    const again = new SpillLog(options(dir, frame * 3));
    expect(await again.open()).to.deep.include({ segments: 4, records: 10 });
    expect((await again.readBatch(20)).map((e) => e.record.id)).to.deep.equal(
      results.map((_, i) => `r${i}`.padEnd(3, '0')),
    );
    await again.close();
  });

  it('past the disk cap refuses with FULL and keeps every old record; the cap covers dead letters too', async () => {
    const frame = encodeFrame(spillRecord('c0', 100)).length;
    const deadRecord = spillRecord('d0', 100, { reason: 'Broker: Message size too large' });
    const deadFrame = encodeFrame(deadRecord).length;
    const budget = new DiskBudget(frame * 4 + deadFrame);
    const spill = new SpillLog(options(dir, frame * 2), { budget });
    const dead = new DeadLetterLog(options(dir, frame * 2), { budget });
    await spill.open();
    await dead.open();
    for (let i = 0; i < 3; i++) expect(await spill.append(spillRecord(`c${i}`, 100))).to.include({ ok: true });
    expect(await dead.append(deadRecord)).to.include({ ok: true });
    expect(await spill.append(spillRecord('c3', 100))).to.include({ ok: true });
    const refused = await spill.append(spillRecord('c4', 100));
    expect(refused).to.deep.include({ ok: false, code: 'FULL' });
    expect(refused.ok === false && refused.message).to.match(/spill disk cap reached: \d+ of \d+ bytes in use/);
    expect(await dead.append(spillRecord('d1', 100))).to.deep.include({ ok: false, code: 'FULL' });
    expect(budget.used).to.equal(frame * 4 + deadFrame);
    expect(dead.stored).to.deep.equal({ events: 1, bytes: deadFrame });

    // Replaying frees room only as whole segments are deleted.
    const read = await spill.readBatch(10);
    expect(read.map((e) => e.record.id)).to.deep.equal(['c0', 'c1', 'c2', 'c3']);
    for (const e of read.slice(0, 2)) expect(await spill.acknowledge(e.position)).to.deep.equal({ ok: true });
    expect(budget.used).to.equal(frame * 2 + deadFrame);
    expect(await spill.append(spillRecord('c5', 100))).to.include({ ok: true });
    await spill.close();
    await dead.close();
    expect(budget.used).to.equal(0);
    expect(await segmentFiles(deadLetterDir(dir))).to.deep.equal(['00000000000000000001.seg']);
  });

  it('a failed write or fsync settles that batch IO (ENOSPC: FULL), is cut back, and later appends go on', async () => {
    const io = new CountingIo();
    const log = new SpillLog(options(dir), { io });
    await log.open();
    expect(await log.append(spillRecord('ok-1'))).to.include({ ok: true });
    io.faults.push({ op: 'datasync', code: 'EIO' });
    const failed = await Promise.all([log.append(spillRecord('lost-1')), log.append(spillRecord('lost-2'))]);
    expect(failed.map((r) => !r.ok && r.code)).to.deep.equal(['IO', 'IO']);
    io.faults.push({ op: 'writev', code: 'ENOSPC' });
    expect(await log.append(spillRecord('lost-3'))).to.deep.include({ ok: false, code: 'FULL' });
    expect(await log.append(spillRecord('ok-2'))).to.include({ ok: true });
    expect((await log.readBatch(10)).map((e) => e.record.id)).to.deep.equal(['ok-1', 'ok-2']);
    expect(log.backlog.events).to.equal(2);

    // When the cut itself fails the tail is unknown: the log refuses appends until reopened.
    io.faults.push({ op: 'writev', code: 'EIO' }, { op: 'truncate', code: 'EIO' });
    expect(await log.append(spillRecord('lost-4'))).to.deep.include({ ok: false, code: 'IO' });
    const after = await log.append(spillRecord('lost-5'));
    expect(after.ok === false && after.message).to.match(/unusable until restart/);
    await log.close();
    const again = new SpillLog(options(dir));
    await again.open();
    expect((await again.readBatch(10)).map((e) => e.record.id)).to.deep.equal(['ok-1', 'ok-2']);
    await again.close();
  });
});
