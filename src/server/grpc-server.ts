import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Config } from '../config/schema';
import type { Ingestor } from '../ingest/ingestor';
import type { Logger } from '../telemetry/logger';
import { commitServiceHandlers } from './commit-service';
import { loadCommitlogProto } from './proto';

/** The gRPC listener and the services on it. */
export class GrpcServer {
  readonly #config: Config;
  readonly #server: Server;
  readonly #log: Logger;
  #address = '';

  constructor(config: Config, ingestor: Ingestor, log: Logger) {
    this.#config = config;
    this.#log = log.child({ component: 'grpc' });
    this.#server = new Server({ 'grpc.max_receive_message_length': config.limits.maxMessageBytes });
    const proto = loadCommitlogProto();
    this.#server.addService(proto.commitlog.v1.CommitLogService.service, commitServiceHandlers(ingestor, config));
  }

  /** host:port actually bound (the port is chosen when the config says 0). */
  get address(): string {
    return this.#address;
  }

  async start(): Promise<void> {
    const listen = this.#config.listen;
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(listen, ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
    this.#address = `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
    this.#log.info({ address: this.#address }, 'listening');
  }

  /** Stops taking calls and waits for the open ones; cuts them off after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // tryShutdown() is still waiting on open calls past the deadline: cut them.
        this.#server.forceShutdown();
        resolve();
      }, timeoutMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
