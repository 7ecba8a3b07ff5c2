import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { LocalKafka } from '../../src/dev/local-kafka';
import { walkSegments } from '../../src/spill/spill-tools';
import { readTopic, startGateway, storeEvent, uniqueTopic } from '../common';

/**
 * kafka.sasl reaches librdkafka: against a broker listener that takes only
 * SASL/PLAIN logins, the right password delivers; a wrong one delivers
 * nothing (events are spilled, not lost) and the log says why, without the
 * password.
 */
describe('Kafka SASL/PLAIN from kafka.sasl', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-sasl-'));
  const broker = new LocalKafka({ saslUsers: { gateway: 'gw-secret-1' } });

  before(() => broker.start());
  after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const passwordFile = (password: string): string => {
    const file = path.join(dir, `password-${password}`);
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    return file;
  };

  it('delivers with the right password', async () => {
    const topic = uniqueTopic('sasl');
    const gw = await startGateway({
      kafka: {
        brokers: broker.saslBrokers,
        sasl: { mechanism: 'PLAIN', username: 'gateway', passwordFile: passwordFile('gw-secret-1') },
        properties: { 'security.protocol': 'SASL_PLAINTEXT' },
      },
      routing: { defaultTopic: topic },
    });
    try {
      const acks = await gw.commit([storeEvent('sasl-1', 'k', 'v1'), storeEvent('sasl-2', 'k', 'v2')]);
      expect(acks.map((a) => a.outcome)).to.deep.equal(['OUTCOME_DELIVERED', 'OUTCOME_DELIVERED']);
      // Read through the plaintext listener of the same broker.
      const records = await readTopic(topic, 2, 500, 30_000, broker.brokers);
      expect(records.map((r) => r.value?.toString())).to.deep.equal(['v1', 'v2']);
    } finally {
      await gw.close();
    }
  });

  it('with a wrong password delivers nothing, spills instead, and logs the authentication failure without the password', async () => {
    const topic = uniqueTopic('sasl-bad');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const gw = await startGateway(
      {
        kafka: {
          brokers: broker.saslBrokers,
          connectTimeoutMs: 3_000,
          sasl: { mechanism: 'PLAIN', username: 'gateway', passwordFile: passwordFile('not-the-password') },
          properties: { 'security.protocol': 'SASL_PLAINTEXT' },
        },
        routing: { defaultTopic: topic },
      },
      log,
    );
    try {
      expect(gw.gateway.kafkaConnected).to.equal(false);
      const [ack] = await gw.commit([storeEvent('bad-1', 'k', 'v')]);
      expect(ack.outcome).to.equal('OUTCOME_SPILLED');
      const text = lines.join('\n');
      expect(text).to.match(/SASL authentication|Authentication failed|Invalid username or password/i);
      expect(text).to.not.include('not-the-password');
      // The spilled record keeps why: the authentication failure, not just "transport failure".
      const reasons: string[] = [];
      await walkSegments(
        gw.spillDir,
        (ref, _offset, _bytes, record) => void (ref.log === 'spill' && reasons.push(record.reason)),
      );
      expect(reasons).to.have.length(1);
      expect(reasons[0]).to.match(/SASL authentication error/);
    } finally {
      await gw.close();
    }
  });
});
