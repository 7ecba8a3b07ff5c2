import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LocalKafka } from '../../src/dev/local-kafka';

/**
 * A broker of a test's own that can be stopped (really gone: connections
 * refused) and started again with its data, on the same port, so clients
 * see Kafka go away and come back.
 */
export class RestartableKafka {
  readonly #dataDir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-restartable-kafka-'));
  #port = 0;
  #broker: LocalKafka | undefined;

  get brokers(): string {
    return `127.0.0.1:${this.#port}`;
  }

  async start(): Promise<void> {
    if (this.#broker !== undefined) return;
    if (this.#port === 0) this.#port = await freePort();
    this.#broker = new LocalKafka({ dataDir: this.#dataDir, port: this.#port });
    await this.#broker.start();
  }

  async stop(): Promise<void> {
    await this.#broker?.close();
    this.#broker = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.#dataDir, { recursive: true, force: true });
  }
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
