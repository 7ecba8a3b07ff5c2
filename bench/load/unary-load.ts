import type { AckRecorder } from './ack-recorder';
import { forEachAck } from './ack-decoder';
import { H2GrpcConnection } from './h2-grpc';
import type { LoadDriver } from './load-driver';
import { Pacer } from './pacer';
import type { LoadPlan } from './protocol';
import { RequestTemplate } from './request-template';

const METHOD = '/commitlog.v1.CommitLogService/Commit';
/**
 * Open loop: past this many calls outstanding, intended calls are skipped and
 * counted (the rate is not sustained). Above the gateway's default
 * grpc.maxConcurrentStreams (1000), so the server's limit is met first.
 */
const OPEN_LOOP_CAP_CALLS = 5_000;
/** After a failed call (e.g. RESOURCE_EXHAUSTED), a closed-loop slot waits this long, not spinning on errors. */
const RETRY_MS = 10;

/**
 * Unary Commit load, each call one pre-encoded request of `batch` events.
 * Closed loop: `concurrency` calls outstanding, each answered call followed by
 * the next. Open loop: calls start at the plan's rate whatever is outstanding.
 */
export class UnaryLoad implements LoadDriver {
  readonly #plan: LoadPlan;
  readonly #recorder: AckRecorder;
  readonly #connection: H2GrpcConnection;
  readonly #template: RequestTemplate;
  #pacer: Pacer | undefined;
  #nextSeq = 0;
  #outstanding = 0;
  #running = false;

  constructor(plan: LoadPlan, recorder: AckRecorder) {
    this.#plan = plan;
    this.#recorder = recorder;
    this.#connection = new H2GrpcConnection(plan.address);
    this.#template = new RequestTemplate(plan.batch, plan.idPrefix, plan.valueBytes);
  }

  ready(): Promise<void> {
    return this.#connection.ready();
  }

  run(): void {
    this.#running = true;
    if (this.#plan.rate === undefined) {
      for (let i = 0; i < this.#plan.concurrency; i++) this.#call(performance.now(), true);
    } else {
      this.#pacer = new Pacer((this.#plan.batch / this.#plan.rate) * 1000, (at) => this.#paced(at), this.#recorder);
      this.#pacer.start();
    }
  }

  stop(): void {
    this.#running = false;
    this.#pacer?.stop();
  }

  close(): void {
    this.stop();
    this.#connection.close();
  }

  #paced(intendedAt: number): void {
    if (this.#outstanding >= OPEN_LOOP_CAP_CALLS) this.#recorder.skipped(this.#plan.batch);
    else this.#call(intendedAt, false);
  }

  /** One call; latency of its acks from `at`. A closed-loop call starts the next when it is answered. */
  #call(at: number, closedLoop: boolean): void {
    const batch = this.#plan.batch;
    const request = this.#template.fill(this.#nextSeq);
    this.#nextSeq += batch;
    this.#outstanding++;
    this.#recorder.sent(batch);
    this.#connection.unary(METHOD, request, (err, response) => {
      this.#outstanding--;
      const now = performance.now();
      if (err !== undefined || response === undefined) {
        this.#recorder.callFailed(batch, `Commit: ${err}`);
      } else {
        forEachAck(response, (seq, outcome) => {
          if (seq < 0) this.#recorder.unmatched();
          else this.#recorder.ack(outcome, now - at);
        });
      }
      if (!closedLoop || !this.#running) return;
      if (err !== undefined) setTimeout(() => this.#running && this.#call(performance.now(), true), RETRY_MS);
      else this.#call(performance.now(), true);
    });
  }
}
