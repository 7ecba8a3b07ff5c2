import { Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { Config } from '../config/schema';
import type { CommitStreamRequest__Output } from '../gen/commitlog/v1/CommitStreamRequest';
import type { CommitStreamResponse } from '../gen/commitlog/v1/CommitStreamResponse';
import type { Ingestor } from '../ingest/ingestor';
import type { Logger } from '../telemetry/logger';
import { CallDrainer, type DrainRegistry, type WorkCounter } from './call-drainer';
import type { Instruments } from '../telemetry/telemetry';
import { authInterceptor } from './auth-interceptor';
import { commitServiceHandlers } from './commit-service';
import { idleCallInterceptor } from './idle-call-interceptor';
import { rpcTelemetryInterceptor } from './rpc-telemetry';
import type { HealthStatus } from './health';
import { loadCommitlogProto, loadServiceDescriptors } from './proto';
import { grpcServerOptions } from './server-options';
import { TlsCredentials } from './tls-credentials';
import { TokenStore } from './token-store';
import { withWireCodecs } from './wire';

/** A CommitStream request carries events; each is answered by one ack in some response. */
const COMMIT_STREAM_WORK: WorkCounter = {
  taken: (request) => (request as CommitStreamRequest__Output).events.length,
  answered: (response) => (response as CommitStreamResponse).acks?.length ?? 0,
};

/** Probes keep getting answers (NOT_SERVING) while the server drains. */
const HEALTH_SERVICE = 'grpc.health.v1.Health';
/** Open without credentials: probes and tools that list the API. */
const OPEN_SERVICES = [
  HEALTH_SERVICE,
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
];

/** The gRPC listener and the services on it: CommitLogService, health and (by default) reflection. */
export class GrpcServer {
  readonly #config: Config;
  readonly #server: Server;
  readonly #drainer: CallDrainer;
  readonly #log: Logger;
  readonly #tls: TlsCredentials;
  readonly #tokens: TokenStore | undefined;
  #address = '';

  constructor(config: Config, ingestor: Ingestor, health: HealthStatus, instruments: Instruments, log: Logger) {
    this.#config = config;
    this.#log = log.child({ component: 'grpc' });
    const service = loadCommitlogProto().commitlog.v1.CommitLogService.service;
    const counted = new Map([[service.CommitStream.path, COMMIT_STREAM_WORK]]);
    this.#drainer = new CallDrainer({ counted, exempt: [HEALTH_SERVICE] });
    const { security } = config;
    this.#tls = new TlsCredentials(security);
    this.#tokens =
      security.tokens === undefined
        ? undefined
        : new TokenStore(security.tokens.file, security.tokens.reloadMs, this.#log);
    const auth = authInterceptor({ tokens: this.#tokens, requireAuth: security.requireAuth, exempt: OPEN_SERVICES });
    // Telemetry outermost, so calls the drainer or auth refuse are counted and traced too.
    this.#server = new Server({
      ...grpcServerOptions(config),
      interceptors: [
        rpcTelemetryInterceptor(instruments, this.#log),
        this.#drainer.interceptor,
        ...(config.grpc.maxCallIdleMs > 0
          ? [idleCallInterceptor({ idleMs: config.grpc.maxCallIdleMs, counted, exempt: OPEN_SERVICES })]
          : []),
        auth,
      ],
    });
    this.#server.addService(withWireCodecs(service), commitServiceHandlers(ingestor, config, instruments));
    health.addTo(this.#server);
    if (config.grpc.reflection) new ReflectionService(loadServiceDescriptors()).addToServer(this.#server);
  }

  /** host:port actually bound (the port is chosen when the config says 0). */
  get address(): string {
    return this.#address;
  }

  /** Where handlers holding events of their own register to hear that the server drains. */
  get drains(): DrainRegistry {
    return this.#drainer;
  }

  async start(): Promise<void> {
    const listen = this.#config.listen;
    this.#tokens?.start();
    const credentials = await this.#tls.start();
    const port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(listen, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    this.#address = `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
    const { tls, requireAuth } = this.#config.security;
    this.#log.info(
      { address: this.#address, tls: tls !== undefined, mtls: tls?.clientCaFile !== undefined, requireAuth },
      'listening',
    );
  }

  /**
   * Starts draining (see CallDrainer): new calls but health checks are refused
   * UNAVAILABLE; open streams stop being read and end once their events are
   * acked. The listener stays open, so probes keep reading NOT_SERVING.
   * Resolves once no call holding events is open, or at `deadline` (ms since the epoch).
   */
  async drain(deadline: number): Promise<void> {
    const busy = this.#drainer.busy;
    this.#drainer.drain();
    const idle = await this.#drainer.whenIdle(deadline);
    this.#log.info({ calls: busy, stillOpen: this.#drainer.busy, idle }, 'drained calls');
  }

  /**
   * Gives calls still holding events `graceMs` to send the answers the closed
   * sink has just given them, ends whatever is open with UNAVAILABLE (health
   * Watch and reflection streams too), then closes the listener and every
   * connection, cutting those still open after another `graceMs`.
   */
  async close(graceMs: number): Promise<void> {
    this.#drainer.drain();
    await this.#drainer.whenIdle(Date.now() + graceMs);
    const cut = this.#drainer.endAll();
    if (cut > 0) this.#log.info({ calls: cut }, 'ended open calls UNAVAILABLE');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // tryShutdown() still waits on connections that did not close: cut them.
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.#tokens?.close();
    this.#tls.close();
  }
}
