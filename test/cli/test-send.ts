import { expect } from 'chai';
import { readTopic, runCli, startGateway, uniqueTopic } from '../common';
import { freePort } from '../client/fixed-port-gateway';

const lines = (stdout: string): Array<Record<string, unknown>> =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('commitlog send (on the client)', () => {
  before(async () => {
    const help = await runCli(['send', '--help']);
    expect(help.stdout, 'src/cli/main.ts must declare the --stream option of send').to.contain('--stream');
  });

  it('--stream: 1,000 events over one CommitStream, acks printed in input order, read back from Kafka', async () => {
    const topic = uniqueTopic('cli-send-stream');
    const gw = await startGateway({ routing: { defaultTopic: topic } });
    try {
      const total = 1_000;
      const input = Array.from({ length: total }, (_, i) =>
        JSON.stringify(
          i % 10 === 9
            ? { key: Buffer.from(`key-${i}`).toString('base64'), action: 'DELETE' } // no id: the client makes one
            : {
                id: `s-${i}`,
                key: Buffer.from(`key-${i}`).toString('base64'),
                value: Buffer.from([i % 256, 0]).toString('base64'),
                metadata: { i: String(i) },
              },
        ),
      ).join('\n');
      const { code, stdout, stderr } = await runCli(
        ['send', '--stream', '--base64', '--batch', '50', '--address', gw.gateway.address],
        { input },
      );
      expect(stderr).to.equal('');
      expect(code).to.equal(0);
      const acks = lines(stdout);
      expect(acks).to.have.length(total);
      acks.forEach((ack, i) => {
        if (i % 10 !== 9) expect(ack.id).to.equal(`s-${i}`);
        expect(ack).to.include({ outcome: 'DELIVERED', topic });
        expect(ack).to.have.keys('id', 'outcome', 'topic', 'partition', 'offset');
      });
      const records = await readTopic(topic, total);
      expect(records).to.have.length(total);
      const byId = new Map(records.map((r) => [r.headers['commitlog-event-id'], r]));
      acks.forEach((ack, i) => {
        const record = byId.get(ack.id as string)!;
        expect([record.key, record.partition, String(record.offset)]).to.deep.equal([
          `key-${i}`,
          ack.partition,
          ack.offset,
        ]);
        expect(record.value).to.deep.equal(i % 10 === 9 ? null : Buffer.from([i % 256, 0]));
      });
    } finally {
      await gw.close();
    }
  });

  for (const mode of [[], ['--stream']]) {
    it(`${mode.join(' ') || 'unary'}: a gateway that is not there: one REJECTED ack per event after the retries, exit 1`, async () => {
      const port = await freePort();
      const input = ['{"id":"a","key":"k"}', '{"id":"b","key":"k"}'].join('\n');
      const { code, stdout } = await runCli(['send', ...mode, '--timeout', '2000', '--address', `127.0.0.1:${port}`], {
        input,
      });
      expect(code).to.equal(1);
      const acks = lines(stdout);
      expect(acks.map((a) => [a.id, a.outcome, a.code])).to.deep.equal([
        ['a', 'REJECTED', 14],
        ['b', 'REJECTED', 14],
      ]);
    });
  }
});
