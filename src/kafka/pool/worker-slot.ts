import { status as Status } from '@grpc/grpc-js';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { KafkaConfig } from '../../config/schema';
import type { Outcome } from '../../sink';
import { rejected } from '../delivery-error';
import type { PendingRecord } from '../pending-record';
import { packRecords, readSettled, type FromWorker, type Settled, type ToWorker, type WorkerState } from './protocol';

/** What a slot tells the pool. */
export interface SlotEvents {
  /** The worker process ended without being asked to: `reason` says how. */
  onDeath(slot: WorkerSlot, reason: string): void;
  onState(slot: WorkerSlot): void;
  onSettled(slot: WorkerSlot, message: Settled): void;
}

export interface SlotOptions {
  readonly kafka: KafkaConfig;
  readonly logLevel: string;
  readonly heartbeatMs: number;
}

const STARTUP_GRACE_MS = 10_000;
const WORKER_MODULE = path.join(__dirname, `producer-worker${path.extname(__filename)}`);
/** Under tsx (tests, `npm run dev` from source) the worker is TypeScript too. */
const EXEC_ARGV = path.extname(__filename) === '.ts' ? ['--require', 'tsx/cjs'] : [];

/**
 * One place in the pool: the worker process that fills it now (replaced when
 * it dies), the records it owes outcomes for, and those waiting to be sent.
 * Every record taken is answered exactly once: by its worker, or, when the
 * worker dies, by its replacement (the pool re-sends it), or by fail().
 */
export class WorkerSlot {
  readonly index: number;
  readonly #options: SlotOptions;
  readonly #events: SlotEvents;
  #child: ChildProcess | undefined;
  #ready = false;
  #state: WorkerState = { connected: false, available: false, lastError: 'starting', inFlight: 0 };
  /** Sent to the current worker, by sequence number (Map order is send order). */
  #sent = new Map<number, PendingRecord>();
  #outbox: PendingRecord[] = [];
  #nextSeq = 0;
  #flushScheduled = false;
  /** performance.now() of the last message from the current worker. */
  lastHeardAt = 0;
  restarts = 0;
  /** Set by the pool's watchdog before it kills a worker that stopped heartbeating. */
  hung = false;
  delivered = 0;
  errors = 0;
  #closing = false;
  #exited: Promise<void> = Promise.resolve();

  constructor(index: number, options: SlotOptions, events: SlotEvents) {
    this.index = index;
    this.#options = options;
    this.#events = events;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Records taken and not yet answered. */
  get inFlight(): number {
    return this.#sent.size + this.#outbox.length;
  }

  /** Starts a worker process; resolves once its producer has made its first attempt to reach Kafka. */
  spawn(): Promise<void> {
    this.#ready = false;
    // Starting node and loading librdkafka is not a hang: the first heartbeat gets extra time.
    this.lastHeardAt = performance.now() + STARTUP_GRACE_MS;
    const child = fork(WORKER_MODULE, [], {
      execArgv: EXEC_ARGV,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    // Failed sends and kills of a dying worker: its exit is what counts, and is handled below.
    child.on('error', () => {});
    const ready = new Promise<void>((resolve) => {
      child.on('message', (message: FromWorker) => {
        if (this.#child !== child) return; // a message from a worker already given up on
        this.lastHeardAt = performance.now();
        this.#onMessage(message, resolve);
      });
      this.#exited = new Promise((exited) =>
        // 'close', not 'exit': it comes after the IPC channel is drained, so the outcomes
        // a worker sent just before it ended are read before its death is handled.
        child.on('close', (code, signal) => {
          resolve();
          exited();
          if (this.#child !== child) return;
          this.#child = undefined;
          this.#ready = false;
          this.#state = { ...this.#state, connected: false, available: false };
          if (!this.#closing)
            this.#events.onDeath(this, signal !== null ? `killed by ${signal}` : `exited with code ${code}`);
        }),
      );
    });
    this.#post({
      t: 'init',
      index: this.index,
      kafka: this.#options.kafka,
      logLevel: this.#options.logLevel,
      heartbeatMs: this.#options.heartbeatMs,
    });
    return ready;
  }

  /** Kills the current worker (hung); its exit is reported as a death. */
  kill(): void {
    this.#child?.kill('SIGKILL');
  }

  /** Takes records; they go to the worker at the end of this turn of the event loop, as one batch. */
  send(pending: PendingRecord): void {
    this.#outbox.push(pending);
    this.#scheduleFlush();
  }

  /** After a death: what the dead worker had not answered is sent again, first, to the next one. */
  requeueSent(): number {
    const requeued = [...this.#sent.values()];
    this.#sent.clear();
    this.#outbox = requeued.concat(this.#outbox);
    return requeued.length;
  }

  /** Answers every record taken with `outcome`: the slot will not be filled again. */
  fail(outcome: Outcome): void {
    const all = [...this.#sent.values(), ...this.#outbox];
    this.#sent.clear();
    this.#outbox = [];
    for (const pending of all) pending.resolve(outcome);
  }

  /**
   * Asks the worker to deliver what it holds within `timeoutMs` and exit; kills
   * it if it has not exited a moment after. What it did not answer is answered
   * not delivered.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const child = this.#child;
    if (child !== undefined) {
      this.#flush();
      this.#post({ t: 'close', timeoutMs });
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 2_000);
      await this.#exited;
      clearTimeout(killer);
    }
    this.fail(rejected(Status.UNAVAILABLE, 'not delivered to Kafka before the gateway shut down'));
  }

  #onMessage(message: FromWorker, ready: () => void): void {
    switch (message.t) {
      case 'ready':
        this.#ready = true;
        ready();
        this.#setState(message);
        this.#scheduleFlush();
        break;
      case 'state':
        this.#setState(message);
        break;
      case 'settled':
        readSettled(
          message,
          (seq) => this.#sent.get(seq)?.record.topic,
          (seq, outcome) => {
            const pending = this.#sent.get(seq);
            if (pending === undefined) return;
            this.#sent.delete(seq);
            if (outcome.kind === 'delivered') this.delivered++;
            else this.errors++;
            pending.resolve(outcome);
          },
        );
        this.#events.onSettled(this, message);
        break;
    }
  }

  #setState({ connected, available, lastError, inFlight }: WorkerState): void {
    const changed = connected !== this.#state.connected || available !== this.#state.available;
    this.#state = { connected, available, lastError, inFlight };
    if (changed) this.#events.onState(this);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || !this.#ready || this.#outbox.length === 0) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (!this.#ready || this.#outbox.length === 0) return;
    const batch = this.#outbox;
    this.#outbox = [];
    const first = this.#nextSeq;
    for (const pending of batch) this.#sent.set(this.#nextSeq++, pending);
    this.#post({ t: 'send', first, records: packRecords(batch.map((p) => p.record)) });
  }

  #post(message: ToWorker): void {
    // To a worker that has just died the send fails (EPIPE): its exit handler re-sends what it was given.
    if (this.#child?.connected) this.#child.send(message, () => undefined);
  }
}
