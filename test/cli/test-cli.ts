import { expect } from 'chai';
import { readTopic, runCli, startGateway, uniqueTopic } from '../common';

describe('commitlog CLI', () => {
  it('--help lists the subcommands', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).to.equal(0);
    for (const command of ['serve', 'dev', 'kafka', 'send'])
      expect(stdout).to.match(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('serve stops at start-up with exit 2 and names a bad setting', async () => {
    const bad = await runCli(['serve'], { env: { COMMITLOG_LISTEN: '127.0.0.1:99999' } });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('listen (from COMMITLOG_LISTEN): port must be at most 65535');
  });

  it('send prints one JSON ack per event and exits 1 when one was not made durable', async () => {
    const topic = uniqueTopic('cli-send');
    const gw = await startGateway({ routing: { defaultTopic: topic } });
    try {
      const input = [
        JSON.stringify({ id: 'c-1', bucket: 'users', key: 'alice', value: 'hello', metadata: { a: 'b' } }),
        JSON.stringify({ id: 'c-2', action: 'DELETE', bucket: 'users', key: 'alice' }),
        JSON.stringify({ id: 'c-3', key: '' }),
        '{not json',
      ].join('\n');
      const { code, stdout, stderr } = await runCli(['send', '--address', gw.gateway.address], { input });
      expect(code).to.equal(1);
      expect(stderr).to.contain('line 4: not JSON');
      const acks = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(acks.map((a) => [a.id, a.outcome])).to.deep.equal([
        ['c-1', 'DELIVERED'],
        ['c-2', 'DELIVERED'],
        ['c-3', 'REJECTED'],
      ]);
      expect(acks[0]).to.include({ topic });
      expect(acks[2]).to.include({ code: 3 });
      const records = await readTopic(topic, 2);
      expect(records.map((r) => [r.headers['commitlog-event-id'], r.value?.toString() ?? null])).to.deep.equal([
        ['c-1', 'hello'],
        ['c-2', null],
      ]);
    } finally {
      await gw.close();
    }
  });
});
