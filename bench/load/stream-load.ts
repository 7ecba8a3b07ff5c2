import type { AckRecorder } from './ack-recorder';
import { forEachAck } from './ack-decoder';
import { H2GrpcConnection, type H2GrpcStream } from './h2-grpc';
import type { LoadDriver } from './load-driver';
import { Pacer } from './pacer';
import type { LoadPlan } from './protocol';
import { RequestTemplate } from './request-template';

const METHOD = '/commitlog.v1.CommitLogService/CommitStream';
/** Send times by sequence number, a ring: far more than ever in flight (OPEN_LOOP_CAP). */
const RING = 1 << 21;
const MASK = RING - 1;
/** Open loop: past this many events in flight, intended sends are skipped and counted (the rate is not sustained). */
const OPEN_LOOP_CAP = 200_000;
const REOPEN_MS = 100;

/**
 * CommitStream load: `streams` calls on one HTTP/2 connection,
 * each request a pre-encoded batch. Closed loop: each stream keeps its share
 * of `inflight` events outstanding and sends more as acks come back. Open
 * loop: messages go out at the plan's rate, round-robin over the streams.
 */
export class StreamLoad implements LoadDriver {
  readonly #plan: LoadPlan;
  readonly #recorder: AckRecorder;
  readonly #connection: H2GrpcConnection;
  readonly #template: RequestTemplate;
  readonly #sentAt = new Float64Array(RING);
  readonly #streams: StreamSlot[] = [];
  #pacer: Pacer | undefined;
  #nextSeq = 0;
  #running = false;
  #turn = 0;

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
    const window = Math.max(this.#plan.batch, Math.ceil(this.#plan.inflight / this.#plan.streams));
    for (let i = 0; i < this.#plan.streams; i++) this.#streams.push(new StreamSlot(this, window));
    for (const slot of this.#streams) slot.open();
    if (this.#plan.rate === undefined) {
      for (const slot of this.#streams) slot.pump();
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
    for (const slot of this.#streams) slot.cancel();
    this.#connection.close();
  }

  get running(): boolean {
    return this.#running;
  }

  get closedLoop(): boolean {
    return this.#plan.rate === undefined;
  }

  get batch(): number {
    return this.#plan.batch;
  }

  get recorder(): AckRecorder {
    return this.#recorder;
  }

  openCall(onMessage: (message: Buffer) => void, onEnd: (err: string | undefined) => void): H2GrpcStream {
    return this.#connection.stream(METHOD, onMessage, onEnd);
  }

  /** A fresh request; its events' send times are `at`. */
  nextRequest(at: number): Buffer {
    const seq = this.#nextSeq;
    this.#nextSeq += this.#plan.batch;
    for (let i = 0; i < this.#plan.batch; i++) this.#sentAt[(seq + i) & MASK] = at;
    this.#recorder.sent(this.#plan.batch);
    return this.#template.fill(seq);
  }

  sentAt(seq: number): number {
    return this.#sentAt[seq & MASK];
  }

  #paced(intendedAt: number): void {
    let inFlight = 0;
    for (const slot of this.#streams) inFlight += slot.inFlight;
    if (inFlight + this.#plan.batch > OPEN_LOOP_CAP) {
      this.#recorder.skipped(this.#plan.batch);
      return;
    }
    this.#streams[this.#turn++ % this.#streams.length].send(intendedAt);
  }
}

/** One CommitStream call and the events it has in flight; reopened if the server ends or fails it. */
class StreamSlot {
  readonly #load: StreamLoad;
  readonly #window: number;
  #call: H2GrpcStream | undefined;
  #writable = true;
  inFlight = 0;

  constructor(load: StreamLoad, window: number) {
    this.#load = load;
    this.#window = window;
  }

  open(): void {
    const call: H2GrpcStream = this.#load.openCall(
      (response) => this.#onAcks(response),
      (err) => this.#lost(call, err ?? 'the server ended the stream'),
    );
    this.#call = call;
    this.#writable = true;
  }

  cancel(): void {
    this.#call?.cancel();
    this.#call = undefined;
  }

  /** Closed loop: fills the window. */
  pump(): void {
    while (this.#load.running && this.#writable && this.inFlight + this.#load.batch <= this.#window) {
      this.send(performance.now());
    }
  }

  send(at: number): void {
    const call = this.#call;
    if (call === undefined) {
      // Between a lost stream and its replacement: an open-loop send that cannot go out.
      this.#load.recorder.skipped(this.#load.batch);
      return;
    }
    this.inFlight += this.#load.batch;
    if (!call.write(this.#load.nextRequest(at))) {
      this.#writable = false;
      call.onceDrain(() => {
        this.#writable = true;
        if (this.#load.closedLoop) this.pump();
      });
    }
  }

  #onAcks(response: Buffer): void {
    const now = performance.now();
    const recorder = this.#load.recorder;
    this.inFlight -= forEachAck(response, (seq, outcome) => {
      if (seq < 0) recorder.unmatched();
      else recorder.ack(outcome, now - this.#load.sentAt(seq));
    });
    if (this.#load.closedLoop) this.pump();
  }

  #lost(call: H2GrpcStream, message: string): void {
    if (call !== this.#call) return;
    this.#call = undefined;
    if (!this.#load.running) return;
    this.#load.recorder.callFailed(this.inFlight, `CommitStream: ${message}`);
    this.inFlight = 0;
    setTimeout(() => {
      if (!this.#load.running) return;
      this.open();
      if (this.#load.closedLoop) this.pump();
    }, REOPEN_MS);
  }
}
