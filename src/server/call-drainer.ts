import { ServerInterceptingCall, type ServerInterceptingCallInterface, type ServerInterceptor } from '@grpc/grpc-js';
import { SHUTTING_DOWN, TrackedCall, type EndStatus, type WorkCounter } from './tracked-call';

export { SHUTTING_DOWN, type WorkCounter } from './tracked-call';

/** Something holding work of its own (a stream session, a queue) that wants to hear when draining starts. */
export interface DrainParticipant {
  /**
   * Stop taking new events, answer the ones already taken, resolve once the
   * answers are written. Called once; the server does not wait past its deadline.
   */
  drain(): Promise<void>;
}

/** Where DrainParticipants register. */
export interface DrainRegistry {
  readonly draining: boolean;
  /**
   * Adds a participant until the returned function is called (call it when its
   * call ends). Registering while the server drains calls `drain()` at once.
   */
  register(participant: DrainParticipant): () => void;
}

export interface CallDrainerOptions {
  /** Methods (by path) whose calls carry events, and how to count them in requests and responses. */
  readonly counted: ReadonlyMap<string, WorkCounter>;
  /** Services (full names) still served while draining, e.g. grpc.health.v1.Health so probes see NOT_SERVING. */
  readonly exempt: readonly string[];
}

/**
 * A server interceptor that knows every open call, so the server can drain
 * without help from the handlers (DESIGN.md §3: SIGTERM drains, new calls refused):
 *  - once draining, a new call (but for exempt services) ends at once with
 *    UNAVAILABLE "gateway is shutting down";
 *  - an open stream of a counted method stops being read and is ended with that
 *    status as soon as every event it took has its ack (or OK, by its handler,
 *    when the client had half-closed and nothing was left unread);
 *  - unary calls finish by themselves; long-lived streams that carry no events
 *    (health Watch, reflection) are ended last, by `endAll()`.
 * Every event a client sent is thus either acked or covered by a non-OK status.
 */
export class CallDrainer implements DrainRegistry {
  readonly #counted: ReadonlyMap<string, WorkCounter>;
  readonly #exempt: readonly string[];
  readonly #calls = new Set<TrackedCall>();
  readonly #participants = new Set<DrainParticipant>();
  readonly #participantsDrained: Promise<void>[] = [];
  #idleWaiters: Array<() => void> = [];
  #draining = false;

  /** Install with `new Server({ interceptors: [drainer.interceptor] })`. */
  readonly interceptor: ServerInterceptor = (method, call) => this.#intercept(method.path, method.responseStream, call);

  constructor(options: CallDrainerOptions) {
    this.#counted = options.counted;
    this.#exempt = options.exempt.map((service) => `/${service}/`);
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Calls open now that hold events (counted streams and unary calls). */
  get busy(): number {
    let busy = 0;
    for (const call of this.#calls) if (call.holdsWork) busy++;
    return busy;
  }

  register(participant: DrainParticipant): () => void {
    this.#participants.add(participant);
    if (this.#draining) this.#drainParticipant(participant);
    return () => void this.#participants.delete(participant);
  }

  /** Starts draining; idempotent. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    for (const participant of this.#participants) this.#drainParticipant(participant);
    for (const call of this.#calls) call.drain();
  }

  /** Resolves true once no call holding events is open and every participant has drained; false at `deadline`. */
  async whenIdle(deadline: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    });
    const idle = Promise.allSettled(this.#participantsDrained)
      .then(() => this.#callsIdle())
      .then(() => true as const);
    try {
      return await Promise.race([idle, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends every call still open with `status`; answers their handlers send later are dropped. Returns how many. */
  endAll(status: EndStatus = SHUTTING_DOWN): number {
    const open = [...this.#calls];
    for (const call of open) call.end(status);
    return open.length;
  }

  #intercept(path: string, responseStream: boolean, next: ServerInterceptingCallInterface): ServerInterceptingCall {
    const exempt = this.#exempt.some((prefix) => path.startsWith(prefix));
    if (this.#draining && !exempt) {
      return new ServerInterceptingCall(next, {
        start: (startNext) => {
          // The handler never hears of the call.
          startNext({ onReceiveMetadata: () => undefined });
          next.sendStatus(SHUTTING_DOWN);
        },
      });
    }
    const call = new TrackedCall(
      next,
      { counter: this.#counted.get(path), responseStream },
      {
        opened: (c) => this.#calls.add(c),
        ended: (c) => this.#ended(c),
      },
    );
    if (this.#draining) call.drain();
    return call.interceptingCall;
  }

  #ended(call: TrackedCall): void {
    this.#calls.delete(call);
    if (this.#idleWaiters.length > 0 && this.busy === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #callsIdle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #drainParticipant(participant: DrainParticipant): void {
    // A participant that fails to drain is cut by endAll() like any open call.
    this.#participantsDrained.push(participant.drain().catch(() => undefined));
  }
}
