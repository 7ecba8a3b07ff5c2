import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalKafka } from '../../src/dev/local-kafka';
import { freePort } from '../common';

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
