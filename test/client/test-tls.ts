import { ServerCredentials, status as Status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CommitLogClient } from '../../src/client';
import { startStub, type StubGateway } from './stub-gateway';

const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, 'fixtures', name));

/** A stub speaks mTLS here, to test the client alone; test/server/test-security.ts covers the gateway's own TLS. */
describe('CommitLogClient TLS, mTLS and bearer token', () => {
  let stub: StubGateway;
  const clients: CommitLogClient[] = [];
  before(async () => {
    const credentials = ServerCredentials.createSsl(
      fixture('ca.pem'),
      [{ cert_chain: fixture('server.pem'), private_key: fixture('server.key') }],
      true, // checkClientCertificate: mTLS
    );
    stub = await startStub({}, credentials, 'localhost');
  });
  afterEach(() => Promise.all(clients.splice(0).map((c) => c.close(2_000))));
  after(() => stub.close());
  const client = (options: Omit<ConstructorParameters<typeof CommitLogClient>[0], 'address'>): CommitLogClient => {
    const c = new CommitLogClient({ address: stub.address, retry: { maxAttempts: 1 }, ...options });
    clients.push(c);
    return c;
  };

  const mtls = { ca: fixture('ca.pem'), cert: fixture('client.pem'), key: fixture('client.key') };

  it('unary: connects with CA, client certificate and key; authorization: Bearer <token> read before every call', async () => {
    let token = 'first';
    const c = client({ mode: 'unary', tls: mtls, token: () => token });
    expect(await c.commit({ id: 'unary-1', key: 'k' })).to.include({ kind: 'delivered' });
    token = 'rotated';
    expect(await c.commit({ id: 'unary-2', key: 'k' })).to.include({ kind: 'delivered' });
    const seen = stub.received.filter((r) => r.method === 'Commit').map((r) => r.metadata.get('authorization'));
    expect(seen).to.deep.equal([['Bearer first'], ['Bearer rotated']]);
  });

  it('stream: the same over one CommitStream (the token is read when the stream opens)', async () => {
    const c = client({ mode: 'stream', tls: mtls, token: 'secret' });
    const outcomes = await c.commitMany([
      { id: 'stream-1', key: 'k' },
      { id: 'stream-2', key: 'k' },
    ]);
    expect(outcomes.map((o) => o.kind)).to.deep.equal(['delivered', 'delivered']);
    const seen = stub.received.filter((r) => r.method === 'CommitStream');
    expect(seen.map((r) => [r.ids, r.metadata.get('authorization')])).to.deep.equal([
      [['stream-1', 'stream-2'], ['Bearer secret']],
    ]);
  });

  it('is refused without a client certificate (mTLS) and by an unknown CA', async () => {
    const noCert = await client({ tls: { ca: fixture('ca.pem') } }).commit({ id: 'n', key: 'k' });
    expect(noCert).to.include({ kind: 'rejected', code: Status.UNAVAILABLE, attempts: 1 });
    const wrongCa = await client({
      tls: { ca: fixture('client.pem'), cert: fixture('client.pem'), key: fixture('client.key') },
    }).commit({
      id: 'w',
      key: 'k',
    });
    expect(wrongCa).to.include({ kind: 'rejected', code: Status.UNAVAILABLE });
  });

  it('refuses a bearer token in clear text to anything but a loopback address', () => {
    expect(() => new CommitLogClient({ address: 'gateway.example:50051', token: 't' })).to.throw(
      TypeError,
      /option token must be sent over TLS/,
    );
    const local = new CommitLogClient({ address: '127.0.0.1:1', token: 't' });
    void local.close();
    expect(() => new CommitLogClient({ address: 'gateway.example:50051', tls: { cert: 'x' } })).to.throw(
      /option tls must be cert and key together/,
    );
  });
});
