/**
 * The gateway's own share of an event's cost, without Kafka or HTTP/2: request
 * messages go through the service's deserializer, the CommitStream handler,
 * validation, dedup and the ingest stage into a sink that answers every record
 * DELIVERED once per turn of the event loop (as delivery reports arrive), and
 * the acks through the service's serializer (docs/benchmarks.md, "Profile").
 *   npx tsx bench/ingest-path.ts [batch=100] [seconds=10] ['{config as JSON}']
 * Prints CPU and wall time per event; stable to a few percent from run to run,
 * where the full bench moves by ±25% on this box.
 */
import { Metadata } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { configSchema } from '../src/config/schema';
import type { CommitStreamResponse } from '../src/gen/commitlog/v1/CommitStreamResponse';
import { Ingestor } from '../src/ingest/ingestor';
import { commitServiceHandlers } from '../src/server/commit-service';
import { loadCommitlogProto } from '../src/server/proto';
import { withWireCodecs } from '../src/server/wire';
import type { KafkaRecord, Settle, Sink } from '../src/sink';
import { createLogger } from '../src/telemetry/logger';
import { Telemetry } from '../src/telemetry/telemetry';

const batch = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
/** Settings over the defaults, e.g. '{"dedup":{"maxEntries":0}}'. */
const overrides = JSON.parse(process.argv[4] ?? '{}') as Record<string, unknown>;
/** Messages in flight: 5,000 events at batches of 100, as the bench's generator keeps them. */
const inFlight = Math.max(1, Math.round(5000 / batch));

/** Settles what it was sent DELIVERED on the next turn, in one go, as a poll of delivery reports does. */
class ImmediateSink implements Sink {
  #pending: Array<{ record: KafkaRecord; settle: Settle; index: number }> = [];
  #offset = 0;

  send(records: readonly KafkaRecord[], settle: Settle): void {
    if (this.#pending.length === 0) setImmediate(() => this.#report());
    for (let i = 0; i < records.length; i++) this.#pending.push({ record: records[i], settle, index: i });
  }

  #report(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const { record, settle, index } of pending) {
      settle(index, { kind: 'delivered', topic: record.topic, partition: 0, offset: String(this.#offset++) });
    }
  }
}

async function main(): Promise<void> {
  const config = configSchema.parse({ ...overrides, telemetry: { metricsListen: '' } });
  const telemetry = new Telemetry(config.telemetry, 'bench', createLogger('warn'));
  const ingestor = new Ingestor(config, new ImmediateSink(), telemetry.instruments);
  const handlers = commitServiceHandlers(ingestor, config, telemetry.instruments);
  // The server's codecs for what it reads and writes; proto-loader's (the client's) for the generator's requests.
  const method = withWireCodecs(loadCommitlogProto().commitlog.v1.CommitLogService.service).CommitStream;

  const value = randomBytes(200);
  let next = 0;
  const encode = (): Buffer => {
    const events = Array.from({ length: batch }, () => {
      const n = next++;
      return {
        id: `bench-${n}`,
        action: 'ACTION_STORE' as const,
        bucket: 'bench',
        key: Buffer.from(`k${n % 100_000}`),
        value,
      };
    });
    return method.requestSerialize({ events });
  };

  let acked = 0;
  let bytesOut = 0;
  let sending = true;
  const call = Object.assign(new EventEmitter(), {
    metadata: new Metadata(),
    cancelled: false,
    isPaused: () => false,
    pause: () => undefined,
    resume: () => undefined,
    end: () => undefined,
    write(response: CommitStreamResponse): boolean {
      bytesOut += method.responseSerialize(response).length;
      acked += response.acks?.length ?? 0;
      // Keep the window full: one request message in for every batch's worth of acks out.
      while (sending && next - acked < inFlight * batch) call.emit('data', method.requestDeserialize(encode()));
      return true;
    },
  });
  handlers.CommitStream(call as never);

  const run = async (ms: number): Promise<{ events: number; cpuUs: number; wallMs: number }> => {
    const start = acked;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const used = process.cpuUsage(cpu);
    return { events: acked - start, cpuUs: used.user + used.system, wallMs: performance.now() - t0 };
  };
  for (let i = 0; i < inFlight; i++) call.emit('data', method.requestDeserialize(encode()));
  await run(3000); // JIT warm-up, dedup window filling
  const { events, cpuUs, wallMs } = await run(seconds * 1000);
  sending = false;
  // Encoding the requests runs in this process too; measured apart so it can be subtracted.
  const t = process.cpuUsage();
  const encodes = 2000;
  for (let i = 0; i < encodes; i++) encode();
  const encodeCpu = process.cpuUsage(t);
  const encodeUs = (encodeCpu.user + encodeCpu.system) / (encodes * batch);
  const perEvent = cpuUs / events;
  process.stdout.write(
    [
      `batch ${batch}, ${inFlight} messages in flight, ${events} events in ${(wallMs / 1000).toFixed(1)} s, ${Math.round(bytesOut / events)} ack bytes/event`,
      `gateway path: ${(perEvent - encodeUs).toFixed(2)} µs CPU/event (${Math.round((events / wallMs) * 1000)} events/s with the generator's ${encodeUs.toFixed(2)} µs/event in the same thread)`,
    ].join('\n') + '\n',
  );
  await telemetry.close();
  process.exit(0);
}

void main();
