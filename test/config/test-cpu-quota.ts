import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { autoWorkers, cgroupCpuLimit, type CgroupCpuFiles } from '../../src/config/cpu-quota';
import { loadConfig } from '../../src/config/load';

describe('workers "auto": cgroup CPU quota', () => {
  let root: string;
  let files: CgroupCpuFiles;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'commitlog-cgroup-'));
    files = {
      v2Max: path.join(root, 'cpu.max'),
      v1Quota: path.join(root, 'cpu', 'cpu.cfs_quota_us'),
      v1Period: path.join(root, 'cpu', 'cpu.cfs_period_us'),
    };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const v2 = (text: string) => writeFileSync(files.v2Max, text);
  const v1 = (quota: string, period = '100000\n') => {
    mkdirSync(path.dirname(files.v1Quota), { recursive: true });
    writeFileSync(files.v1Quota, quota);
    writeFileSync(files.v1Period, period);
  };

  it('cgroup v2 "200000 100000" is 2 CPUs: 2 workers on 8 cores, and never more than the cores', () => {
    v2('200000 100000\n');
    expect(cgroupCpuLimit(files)).to.equal(2);
    expect(autoWorkers(files, 8)).to.equal(2);
    expect(autoWorkers(files, 1)).to.equal(1);
  });

  it('rounds a fractional quota up, and a quota under one CPU still gets 1 worker', () => {
    v2('150000 100000\n');
    expect(autoWorkers(files, 8)).to.equal(2);
    v2('50000 100000\n');
    expect(autoWorkers(files, 8)).to.equal(1);
  });

  it('cgroup v2 "max 100000" is no limit: one worker per core', () => {
    v2('max 100000\n');
    expect(cgroupCpuLimit(files)).to.equal(undefined);
    expect(autoWorkers(files, 8)).to.equal(8);
  });

  it('cgroup v1 quota 300000 per 100000 is 3 CPUs', () => {
    v1('300000\n');
    expect(cgroupCpuLimit(files)).to.equal(3);
    expect(autoWorkers(files, 16)).to.equal(3);
  });

  it('cgroup v1 quota -1 is no limit', () => {
    v1('-1\n');
    expect(cgroupCpuLimit(files)).to.equal(undefined);
    expect(autoWorkers(files, 16)).to.equal(16);
  });

  it('v2 decides when its file exists, even over a v1 limit', () => {
    v2('max 100000\n');
    v1('100000\n');
    expect(autoWorkers(files, 4)).to.equal(4);
  });

  it('no cgroup files: availableParallelism()', () => {
    expect(cgroupCpuLimit(files)).to.equal(undefined);
    expect(autoWorkers(files, 6)).to.equal(6);
    expect(autoWorkers(files)).to.equal(availableParallelism());
  });

  for (const [name, write] of [
    ['v2 empty', () => v2('')],
    ['v2 one field', () => v2('200000\n')],
    ['v2 words', () => v2('lots of CPUs\n')],
    ['v2 zero period', () => v2('200000 0\n')],
    ['v2 fractional numbers', () => v2('2.5 1\n')],
    ['v1 garbage quota', () => v1('unlimited\n')],
    ['v1 negative quota other than -1', () => v1('-5\n')],
    ['v1 zero period', () => v1('200000\n', '0\n')],
    [
      'v1 period missing',
      () => {
        v1('200000\n');
        rmSync(files.v1Period);
      },
    ],
  ] as const) {
    it(`garbage (${name}) falls back to availableParallelism()`, () => {
      write();
      expect(cgroupCpuLimit(files)).to.equal(undefined);
      expect(autoWorkers(files, 5)).to.equal(5);
    });
  }

  it('config: workers "auto" is a positive number no larger than availableParallelism()', () => {
    const { workers } = loadConfig({ base: { workers: 'auto' } });
    expect(workers).to.be.within(1, availableParallelism());
  });
});
