/**
 * What crossing into a producer worker costs per batch (docs/benchmarks.md,
 * "Worker pool"): packing a batch of records, unpacking it in the worker, and
 * one IPC message each way with the outcomes, as the pool does it.
 *   npx tsx bench/pool-boundary.ts [batch=100] [batches=20000]
 * Prints main-thread CPU per batch and per record, and the round trips per second.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { packRecords, readSettled, settledMessage, unpackRecords, type Settled } from '../src/kafka/pool/protocol';
import { HEADER, type KafkaRecord, type Outcome } from '../src/sink';

const batch = Number(process.argv[2] ?? 100);
const batches = Number(process.argv[3] ?? 20_000);

function records(n: number): KafkaRecord[] {
  const headers = (i: number): Array<Record<string, string>> => [
    { [HEADER.eventId]: `bench-${i}` },
    { [HEADER.action]: 'STORE' },
    { [HEADER.bucket]: 'bench' },
  ];
  return Array.from({ length: n }, (_, i) => ({
    id: `bench-${String(i).padStart(10, '0')}`,
    topic: 'bench',
    key: Buffer.from(`k${String(i).padStart(10, '0')}`),
    value: randomBytes(200),
    headers: headers(i),
    timestamp: 0,
    receivedAt: Date.now(),
  }));
}

if (process.send !== undefined) {
  // The worker side: unpack, answer every record DELIVERED.
  process.on('message', (m: { first: number; records: Uint8Array }) => {
    const unpacked = unpackRecords(m.records);
    const seqs = unpacked.map((_, i) => m.first + i);
    const outcomes: Outcome[] = unpacked.map((r, i) => ({
      kind: 'delivered',
      topic: r.topic,
      partition: 0,
      offset: String(i),
    }));
    process.send!(settledMessage(seqs, outcomes, [], []));
  });
  process.on('disconnect', () => process.exit(0));
} else {
  void main();
}

async function main(): Promise<void> {
  const input = records(batch);
  // Pack and unpack alone.
  const loops = Math.min(batches, 5_000);
  let packed = packRecords(input);
  // Warm up (JIT) before timing anything.
  for (let i = 0; i < loops; i++) unpackRecords(packRecords(input));
  let t = process.hrtime.bigint();
  for (let i = 0; i < loops; i++) packed = packRecords(input);
  const packUs = Number(process.hrtime.bigint() - t) / 1e3 / loops;
  t = process.hrtime.bigint();
  for (let i = 0; i < loops; i++) unpackRecords(packed);
  const unpackUs = Number(process.hrtime.bigint() - t) / 1e3 / loops;

  // Round trips, 64 batches in flight, as a busy gateway keeps them.
  const child = fork(__filename, [], { serialization: 'advanced', execArgv: ['--require', 'tsx/cjs'] });
  let answered = 0;
  let sent = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const sendOne = () => {
      child.send({ first: sent * batch, records: packRecords(input) });
      sent++;
    };
    child.on('message', (m: Settled) => {
      let settled = 0;
      readSettled(
        m,
        () => 'bench',
        () => settled++,
      );
      if (settled !== batch) throw new Error('short answer');
      answered++;
      if (answered === batches) resolve();
      else if (sent < batches) sendOne();
    });
    for (let i = 0; i < 64; i++) sendOne();
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  child.disconnect();
  const mainUsPerBatch = (used.user + used.system) / batches;
  const lines = [
    `batch of ${batch} records, 200-byte values, 3 headers`,
    `pack (gateway):            ${packUs.toFixed(1)} µs/batch  ${(packUs / batch).toFixed(2)} µs/record`,
    `unpack (worker):           ${unpackUs.toFixed(1)} µs/batch  ${(unpackUs / batch).toFixed(2)} µs/record`,
    `round trip, gateway CPU:   ${mainUsPerBatch.toFixed(1)} µs/batch  ${(mainUsPerBatch / batch).toFixed(2)} µs/record (pack, send, receive outcomes)`,
    `round trips:               ${Math.round(batches / seconds)} batches/s = ${Math.round((batches * batch) / seconds)} records/s through one worker`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
