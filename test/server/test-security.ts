import { credentials, Metadata, status as Status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import { AccessPolicy } from '../../src/ingest/access-policy';
import { loadCommitlogProto } from '../../src/server/proto';
import { readTopic, startGateway, storeEvent, uniqueTopic, until, type TestGateway } from '../common';
import { HealthClient } from './grpc-clients';

type CallResult = { ok: true; acks: Ack__Output[] } | { ok: false; code: number; details: string };

/** One Commit call over `creds` with `metadata`; the status of a failed call, not an exception. */
function commitWith(
  address: string,
  creds: ChannelCredentials,
  events: CommitEvent[],
  token?: string,
): Promise<CallResult> {
  const client = new (loadCommitlogProto().commitlog.v1.CommitLogService)(address, creds, {
    'grpc.ssl_target_name_override': 'localhost',
  });
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise<CallResult>((resolve) => {
    client.Commit({ events }, metadata, { deadline: Date.now() + 30_000 }, (err: ServiceError | null, response) => {
      client.close();
      resolve(
        err || !response
          ? { ok: false, code: err?.code ?? -1, details: err?.details ?? '' }
          : { ok: true, acks: response.acks },
      );
    });
  });
}

const outcomes = (result: CallResult): string[] =>
  result.ok ? result.acks.map((a) => a.outcome) : [`status ${result.code}`];

describe('security: TLS, mTLS, tokens and principals', () => {
  let dir: string;
  const file = (name: string): string => path.join(dir, name);
  const pem = (name: string): Buffer => readFileSync(file(name));
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-certs-'));
    execFileSync('bash', [path.join(__dirname, '..', 'fixtures', 'make-certs.sh'), dir]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('TLS without client certificates', () => {
    let gw: TestGateway;
    const topic = uniqueTopic('tls');
    before(async () => {
      gw = await startGateway({ security: { tls: { certFile: file('server.pem'), keyFile: file('server.key') } } });
    });
    after(() => gw.close());

    it('completes the handshake with a client that trusts the CA and delivers', async () => {
      const result = await commitWith(gw.gateway.address, credentials.createSsl(pem('ca.pem')), [
        storeEvent('tls-1', 'k', 'v', { topic }),
      ]);
      expect(outcomes(result)).to.deep.equal(['OUTCOME_DELIVERED']);
      expect((await readTopic(topic, 1)).map((r) => r.key)).to.deep.equal(['k']);
    });

    it('is refused by a plaintext client and by one that does not trust the CA', async () => {
      const plain = await commitWith(gw.gateway.address, credentials.createInsecure(), [storeEvent('p', 'k', 'v')]);
      expect(plain).to.include({ ok: false, code: Status.UNAVAILABLE });
      const untrusting = await commitWith(gw.gateway.address, credentials.createSsl(pem('other-ca.pem')), [
        storeEvent('u', 'k', 'v'),
      ]);
      expect(untrusting).to.include({ ok: false, code: Status.UNAVAILABLE });
    });
  });

  it('serves a renewed certificate once its files change, without a restart', async () => {
    copyFileSync(file('server.pem'), file('live.pem'));
    copyFileSync(file('server.key'), file('live.key'));
    const gw = await startGateway({
      security: { tls: { certFile: file('live.pem'), keyFile: file('live.key'), reloadMs: 100 } },
    });
    try {
      const event = [storeEvent('r-1', 'k', 'v')];
      const trustsRenewed = credentials.createSsl(pem('other-ca.pem'));
      expect(await commitWith(gw.gateway.address, trustsRenewed, event)).to.include({ ok: false });
      copyFileSync(file('renewed.pem'), file('live.pem'));
      copyFileSync(file('renewed.key'), file('live.key'));
      await until(
        'the renewed certificate is served',
        async () => (await commitWith(gw.gateway.address, trustsRenewed, event)).ok,
        10_000,
      );
      expect(await commitWith(gw.gateway.address, credentials.createSsl(pem('ca.pem')), event)).to.include({
        ok: false,
      });
    } finally {
      await gw.close();
    }
  });

  describe('mTLS: the client certificate is the principal', () => {
    let gw: TestGateway;
    const topic = uniqueTopic('mtls');
    before(async () => {
      gw = await startGateway({
        security: {
          tls: { certFile: file('server.pem'), keyFile: file('server.key'), clientCaFile: file('ca.pem') },
          principals: { writer: { topics: [topic] } },
        },
      });
    });
    after(() => gw.close());

    it('delivers for a certificate the CA signed (CN=writer), and only where writer may write', async () => {
      const creds = credentials.createSsl(pem('ca.pem'), pem('client.key'), pem('client.pem'));
      const result = await commitWith(gw.gateway.address, creds, [
        storeEvent('m-1', 'mine', 'v', { topic }),
        storeEvent('m-2', 'theirs', 'v', { topic: `${topic}-other` }),
      ]);
      expect(outcomes(result)).to.deep.equal(['OUTCOME_DELIVERED', 'OUTCOME_REJECTED']);
      if (result.ok) expect(result.acks[1]).to.include({ code: Status.PERMISSION_DENIED });
    });

    it('fails the handshake without a client certificate and with one from another CA', async () => {
      const none = await commitWith(gw.gateway.address, credentials.createSsl(pem('ca.pem')), [
        storeEvent('n', 'k', 'v'),
      ]);
      expect(none).to.include({ ok: false, code: Status.UNAVAILABLE });
      const stranger = credentials.createSsl(pem('ca.pem'), pem('stranger.key'), pem('stranger.pem'));
      expect(await commitWith(gw.gateway.address, stranger, [storeEvent('s', 'k', 'v')])).to.include({
        ok: false,
        code: Status.UNAVAILABLE,
      });
    });
  });

  describe('bearer tokens', () => {
    let gw: TestGateway;
    const logs: string[] = [];
    const topic = uniqueTopic('tokens');
    const insecure = credentials.createInsecure();
    before(async () => {
      writeFileSync(file('tokens.yaml'), 'alice: alice-token-s3cret\nbob: bob-token-s3cret\n');
      const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (logs.push(chunk.toString()), done()) });
      gw = await startGateway(
        {
          security: {
            tokens: { file: file('tokens.yaml'), reloadMs: 100 },
            principals: { alice: { topics: [`${topic}*`], buckets: ['orders', 'users.*'] } },
          },
        },
        pino({ level: 'trace' }, sink),
      );
    });
    after(() => gw.close());

    it('refuses a call without a token or with a wrong one UNAUTHENTICATED; health stays open', async () => {
      const missing = await commitWith(gw.gateway.address, insecure, [storeEvent('t-0', 'k', 'v', { topic })]);
      expect(missing).to.include({ ok: false, code: Status.UNAUTHENTICATED });
      const wrong = await commitWith(gw.gateway.address, insecure, [storeEvent('t-0', 'k', 'v', { topic })], 'nope');
      expect(wrong).to.include({ ok: false, code: Status.UNAUTHENTICATED });
      const health = new HealthClient(gw.gateway.address);
      expect(await health.check('')).to.deep.equal({ ok: true, value: 'SERVING' });
      health.close();
    });

    it('delivers with the right token; a denied event of the batch never reaches Kafka', async () => {
      const result = await commitWith(
        gw.gateway.address,
        insecure,
        [
          storeEvent('t-1', 'allowed', 'v', { topic, bucket: 'orders' }),
          storeEvent('t-2', 'denied', 'v', { topic, bucket: 'payments' }),
        ],
        'alice-token-s3cret',
      );
      expect(outcomes(result)).to.deep.equal(['OUTCOME_DELIVERED', 'OUTCOME_REJECTED']);
      if (result.ok) expect(result.acks[1]).to.include({ code: Status.PERMISSION_DENIED });
      expect((await readTopic(topic, 1, 1_000)).map((r) => r.key)).to.deep.equal(['allowed']);
      // bob authenticates but is in no rule: every event is denied.
      const bob = await commitWith(
        gw.gateway.address,
        insecure,
        [storeEvent('t-3', 'k', 'v', { topic })],
        'bob-token-s3cret',
      );
      expect(outcomes(bob)).to.deep.equal(['OUTCOME_REJECTED']);
    });

    it('reloads the tokens file when it changes', async () => {
      writeFileSync(file('tokens.yaml'), 'alice: alice-token-rotated\n');
      const event = [storeEvent('t-4', 'k', 'v', { topic, bucket: 'orders' })];
      await until(
        'the new token works',
        async () => (await commitWith(gw.gateway.address, insecure, event, 'alice-token-rotated')).ok,
        10_000,
      );
      const old = await commitWith(gw.gateway.address, insecure, event, 'alice-token-s3cret');
      expect(old).to.include({ ok: false, code: Status.UNAUTHENTICATED });
    });

    it('never writes a token to the logs', () => {
      const text = logs.join('');
      expect(text).to.include('rpc failed');
      expect(text).to.include('tokens reloaded');
      for (const token of ['alice-token-s3cret', 'bob-token-s3cret', 'alice-token-rotated', 'nope']) {
        expect(text).not.to.include(token);
      }
    });
  });

  it('principals × topics and buckets: who may write where', () => {
    const policy = new AccessPolicy({
      alice: { topics: ['orders', 'audit.*'], buckets: ['*'] },
      bob: { topics: ['*'], buckets: ['users'] },
      carol: { topics: [], buckets: ['*'] },
    });
    const table: Array<[string | undefined, string, string, boolean]> = [
      ['alice', 'orders', 'any', true],
      ['alice', 'orders.v2', 'any', false],
      ['alice', 'audit.logins', '', true],
      ['alice', 'audit', 'x', false],
      ['bob', 'anything', 'users', true],
      ['bob', 'anything', 'users2', false],
      ['bob', 'anything', '', false],
      ['carol', 'orders', 'users', false],
      ['dave', 'orders', 'users', false],
      [undefined, 'orders', 'users', false],
    ];
    const seen = table.map(([who, topic, bucket]) => [
      who,
      topic,
      bucket,
      policy.check(who, topic, bucket) === undefined,
    ]);
    expect(seen).to.deep.equal(table);
    expect(new AccessPolicy({}).check(undefined, 'orders', '')).to.equal(undefined);
  });
});
