import type { Server } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The service name clients and probes ask about, besides "" (the whole server). */
export const COMMITLOG_SERVICE = 'commitlog.v1.CommitLogService';
const SERVICES = ['', COMMITLOG_SERVICE] as const;

/**
 * The grpc.health.v1 answers (Check and Watch, from grpc-node's
 * grpc-health-check): SERVING while the gateway can take work, that is while
 * it can make an event durable (Kafka takes records, or the spill log has
 * room) and it is not draining. Draining is final.
 */
export class HealthStatus {
  readonly #health: HealthImplementation;
  #canTakeWork = false;
  #draining = false;
  #published: ServingStatus;

  constructor() {
    this.#published = 'NOT_SERVING';
    this.#health = new HealthImplementation(Object.fromEntries(SERVICES.map((s) => [s, this.#published])));
  }

  get status(): ServingStatus {
    return this.#published;
  }

  addTo(server: Server): void {
    this.#health.addToServer(server);
  }

  setCanTakeWork(canTakeWork: boolean): void {
    this.#canTakeWork = canTakeWork;
    this.#publish();
  }

  /** NOT_SERVING from now on: load balancers and Watch-ing clients stop sending work here. */
  setDraining(): void {
    this.#draining = true;
    this.#publish();
  }

  #publish(): void {
    const status: ServingStatus = this.#canTakeWork && !this.#draining ? 'SERVING' : 'NOT_SERVING';
    // setStatus() writes to every Watch stream, also when nothing changed.
    if (status === this.#published) return;
    this.#published = status;
    for (const service of SERVICES) this.#health.setStatus(service, status);
  }
}
