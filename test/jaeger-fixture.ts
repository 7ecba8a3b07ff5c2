import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const BINARY = path.join(ROOT, '.cache', 'tools', 'bin', 'jaeger');

/** A real Jaeger v2 (OTLP/HTTP receiver, memory storage, query API) on free loopback ports. */
export interface JaegerFixture {
  /** OTLP/HTTP base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly otlpEndpoint: string;
  /** Query API base URL (/api/traces, /api/services) and UI. */
  readonly queryUrl: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startJaeger(timeoutMs = 60_000): Promise<JaegerFixture> {
  execFileSync('bash', [path.join(ROOT, 'scripts', 'build-jaeger')], { stdio: 'inherit' });
  const [otlp, query, queryGrpc] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    BINARY,
    ['--config', `file:${path.join(ROOT, 'test', 'fixtures', 'jaeger.yaml')}`],
    {
      env: {
        ...process.env,
        JAEGER_OTLP_HTTP_PORT: String(otlp),
        JAEGER_QUERY_PORT: String(query),
        JAEGER_QUERY_GRPC_PORT: String(queryGrpc),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const queryUrl = `http://127.0.0.1:${query}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}: ${output}`);
    const ready = await fetch(`${queryUrl}/api/services`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready && (await canConnect(otlp))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`jaeger did not start within ${timeoutMs} ms: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    otlpEndpoint: `http://127.0.0.1:${otlp}`,
    queryUrl,
    close: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
