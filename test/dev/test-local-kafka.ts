import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

import { expect } from 'chai';
import { KafkaConsumer, Producer, type DeliveryReport, type LibrdKafkaError, type Message } from 'node-rdkafka';

import { LocalKafka } from '../../src/dev/local-kafka';

/** Processes whose command line mentions `needle`, from /proc (argv[0] first). */
function processesMentioning(needle: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.some((arg) => arg.includes(needle))) found.push({ pid: Number(entry), argv });
    } catch {
      // The process exited between readdir and read.
    }
  }
  return found;
}

function javaProcessesMentioning(needle: string): number[] {
  return processesMentioning(needle)
    .filter(({ argv }) => path.basename(argv[0]) === 'java')
    .map(({ pid }) => pid);
}

/** librdkafka errors are plain objects, not Error instances. */
function asError(err: LibrdKafkaError): Error {
  return new Error(`librdkafka ${err.code}: ${err.message}`);
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return condition();
}

/** A producer whose delivery reports are matched to produce() calls by opaque token. */
class ReportingProducer {
  readonly #producer: Producer;
  readonly #reports = new Map<string, { report?: DeliveryReport; error?: Error }>();

  constructor(brokers: string) {
    this.#producer = new Producer({ 'metadata.broker.list': brokers, dr_cb: true, 'linger.ms': 0 });
    this.#producer.setPollInterval(20);
    this.#producer.on('delivery-report', (err, report) => {
      this.#reports.set(String(report.opaque), err ? { error: asError(err) } : { report });
    });
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#producer.connect({ timeout: 30_000 }, (err) => (err ? reject(asError(err)) : resolve())),
    );
  }

  /** Produces and returns the token whose report `delivered()` waits for. */
  send(topic: string, key: string, value: string): string {
    const token = randomUUID();
    this.#producer.produce(topic, null, Buffer.from(value), key, Date.now(), token);
    return token;
  }

  delivered(token: string): DeliveryReport | undefined {
    const outcome = this.#reports.get(token);
    if (outcome?.error) throw outcome.error;
    return outcome?.report;
  }

  async waitForReport(token: string, timeoutMs: number): Promise<DeliveryReport> {
    await waitUntil(() => this.delivered(token) !== undefined, timeoutMs);
    const report = this.delivered(token);
    if (!report) throw new Error(`no delivery report within ${timeoutMs} ms`);
    return report;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#producer.disconnect(5000, () => resolve()));
  }
}

/** Reads the one message at topic/partition/offset without joining a consumer group. */
function readAt(brokers: string, report: DeliveryReport): Promise<Message> {
  const consumer = new KafkaConsumer(
    { 'metadata.broker.list': brokers, 'group.id': `test-${randomUUID()}`, 'enable.auto.commit': false },
    {},
  );
  return new Promise<Message>((resolve, reject) => {
    consumer.connect({ timeout: 30_000 }, (err) => {
      if (err) return reject(asError(err));
      consumer.assign([{ topic: report.topic, partition: report.partition, offset: report.offset }]);
      consumer.consume(1, (consumeErr, messages) => (consumeErr ? reject(asError(consumeErr)) : resolve(messages[0])));
    });
  }).finally(() => new Promise((resolve) => consumer.disconnect(resolve)));
}

describe('LocalKafka', function () {
  this.timeout(180_000);

  describe('a running broker', () => {
    const kafka = new LocalKafka();
    let producer: ReportingProducer;

    before(async () => {
      await kafka.start();
      producer = new ReportingProducer(kafka.brokers);
      await producer.connect();
    });

    after(async () => {
      await producer?.close();
      await kafka.close();
    });

    it('listens on loopback and runs Kafka 4 as a java process', () => {
      expect(kafka.brokers).to.match(/^127\.0\.0\.1:\d+$/);
      expect(kafka.version).to.match(/^4\.\d+\.\d+$/);
      expect(kafka.timings?.bootMs).to.be.greaterThan(0);
      expect(javaProcessesMentioning(kafka.dataDir ?? '<none>')).to.deep.equal([kafka.pid]);
    });

    it('delivers a produced message that a consumer reads back unchanged', async () => {
      const topic = `test-local-kafka-${randomUUID()}`;
      const report = await producer.waitForReport(producer.send(topic, 'key-1', 'value-1'), 30_000);
      expect(report.topic).to.equal(topic);
      expect(report.offset).to.be.at.least(0);

      const message = await readAt(kafka.brokers, report);
      expect(message.offset).to.equal(report.offset);
      expect(String(message.key)).to.equal('key-1');
      expect(message.value?.toString()).to.equal('value-1');
    });

    it('holds a produce while paused and completes it after resume()', async () => {
      const topic = `test-local-kafka-${randomUUID()}`;
      const first = await producer.waitForReport(producer.send(topic, 'same-key', 'before'), 30_000);

      kafka.pause();
      let held: string;
      try {
        held = producer.send(topic, 'same-key', 'during');
        await new Promise((resolve) => setTimeout(resolve, 2000));
        expect(producer.delivered(held), 'delivered while paused').to.equal(undefined);
      } finally {
        kafka.resume();
      }
      const second = await producer.waitForReport(held, 30_000);
      expect(second.partition).to.equal(first.partition);
      expect(second.offset).to.equal(first.offset + 1);
    });
  });

  describe('close()', () => {
    it('stops the JVM, removes its own data dir and can be called again', async () => {
      const kafka = new LocalKafka();
      await kafka.start();
      const dataDir = kafka.dataDir ?? '';
      expect(javaProcessesMentioning(dataDir)).to.have.length(1);

      await Promise.all([kafka.close(), kafka.close()]);
      expect(javaProcessesMentioning(dataDir)).to.deep.equal([]);
      expect(existsSync(dataDir)).to.equal(false);
      expect(kafka.pid).to.equal(undefined);
      // The watchdog shell exits once it sees the closed pipe.
      expect(await waitUntil(() => processesMentioning(dataDir).length === 0, 5000)).to.equal(true);
      await kafka.close();
    });

    it('stops a paused JVM without waiting for the KILL grace period', async () => {
      const kafka = new LocalKafka();
      await kafka.start();
      const dataDir = kafka.dataDir ?? '';
      kafka.pause();
      const started = Date.now();
      await kafka.close();
      expect(Date.now() - started).to.be.below(9000);
      expect(javaProcessesMentioning(dataDir)).to.deep.equal([]);
      expect(existsSync(dataDir)).to.equal(false);
    });
  });

  describe('a parent killed with SIGKILL', () => {
    it('leaves no JVM and no data dir behind', async () => {
      const script = `
        const { LocalKafka } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'dev', 'local-kafka'))});
        const kafka = new LocalKafka();
        kafka.start().then(() => {
          console.log(JSON.stringify({ pid: kafka.pid, dataDir: kafka.dataDir }));
          setInterval(() => undefined, 60000);
        }, (err) => { console.error(err); process.exit(1); });
      `;
      const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        const line = await new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout }).once('line', resolve);
          child.once('exit', (code) => reject(new Error(`child exited (${code}) before the broker started`)));
        });
        const { pid, dataDir } = JSON.parse(line) as { pid: number; dataDir: string };
        expect(javaProcessesMentioning(dataDir)).to.deep.equal([pid]);

        child.kill('SIGKILL');
        await exited;
        expect(
          await waitUntil(() => processesMentioning(dataDir).length === 0, 15_000),
          'JVM outlived its parent',
        ).to.equal(true);
        expect(existsSync(dataDir)).to.equal(false);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});
