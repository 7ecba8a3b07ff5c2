// Append throughput with fsync, on this machine's disk:
//   npx tsx test/spill/measure-append.ts [dir]
// 200-byte values; one writer keeping many appends in flight, then one at a time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SpillLog } from '../../src/spill/spill-log';
import { CountingIo, spillRecord } from './spill-fixtures';

async function measure(label: string, run: (log: SpillLog) => Promise<number>): Promise<void> {
  const dir = await mkdtemp(path.join(process.argv[2] ?? tmpdir(), 'commitlog-measure-'));
  const io = new CountingIo();
  const log = new SpillLog({ dir, segmentBytes: 64 * 1024 * 1024, maxBytes: 8 * 1024 ** 3 }, { io });
  await log.open();
  const started = process.hrtime.bigint();
  const events = await run(log);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await log.close();
  await rm(dir, { recursive: true, force: true });
  const perSync = (events / io.datasyncs).toFixed(1);
  console.log(
    `${label}: ${events} events in ${seconds.toFixed(2)} s = ${Math.round(events / seconds)} events/s, ` +
      `${io.datasyncs} fdatasyncs (${perSync} events each), ${((seconds / io.datasyncs) * 1000).toFixed(2)} ms per fsync round`,
  );
}

/** Keeps `inFlight` appends outstanding until `total` are done. */
async function windowed(log: SpillLog, total: number, inFlight: number): Promise<number> {
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < total) {
      const r = await log.append(spillRecord(`m${issued++}`, 200));
      if (!r.ok) throw new Error(r.message);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return total;
}

async function main(): Promise<void> {
  for (const inFlight of [1000, 100, 10])
    await measure(`concurrent, ${inFlight} in flight`, (log) => windowed(log, 100_000, inFlight));
  await measure('sequential, 1 in flight', async (log) => {
    let n = 0;
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      const r = await log.append(spillRecord(`s${n++}`, 200));
      if (!r.ok) throw new Error(r.message);
    }
    return n;
  });
}

void main();
