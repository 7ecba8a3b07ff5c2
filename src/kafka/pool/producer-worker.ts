/**
 * A producer worker process (forked by ProducerPool): one librdkafka producer
 * (ProducerSink) fed batches over IPC. It answers every record it is sent
 * with exactly one outcome, heartbeats every heartbeatMs so the pool can tell
 * a hung worker from a busy one, and exits when the gateway goes away.
 */
import type { Outcome } from '../../sink';
import { createLogger } from '../../telemetry/logger';
import { ProducerSink, type OnDeliveryReport } from '../producer-sink';
import { settledMessage, unpackRecords, type FromWorker, type ToWorker, type WorkerState } from './protocol';

function post(message: FromWorker, then?: () => void): void {
  process.send!(message, undefined, undefined, then);
}

/** Settled records and delivery timings, sent once per turn of the event loop. */
class Outbox {
  seqs: number[] = [];
  outcomes: Outcome[] = [];
  durations: number[] = [];
  errors: string[] = [];
  #scheduled = false;

  /** Delivery reports go to the pool with the outcomes; it records them into the gateway's instruments. */
  readonly onReport: OnDeliveryReport = (seconds, error) => {
    this.durations.push(seconds);
    this.errors.push(error);
  };

  settle(seq: number, outcome: Outcome): void {
    this.seqs.push(seq);
    this.outcomes.push(outcome);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(then?: () => void): void {
    this.#scheduled = false;
    if (this.seqs.length === 0 && this.durations.length === 0) {
      then?.();
      return;
    }
    post(settledMessage(this.seqs, this.outcomes, this.durations, this.errors), then);
    this.seqs = [];
    this.outcomes = [];
    this.durations = [];
    this.errors = [];
  }
}

function main(): void {
  if (process.send === undefined) {
    process.stderr.write('producer-worker: run by the gateway (ProducerPool), not by hand\n');
    process.exit(2);
  }
  // The gateway is gone (crashed or killed): nobody is waiting for these records.
  process.on('disconnect', () => process.exit(1));
  let producer: ProducerSink | undefined;
  const outbox = new Outbox();
  const state = (): WorkerState => ({
    connected: producer?.connected ?? false,
    available: producer?.available ?? false,
    lastError: producer?.lastError ?? 'starting',
    inFlight: producer?.inFlight ?? 0,
  });
  process.on('message', (message: ToWorker) => {
    switch (message.t) {
      case 'init': {
        const log = createLogger(message.logLevel).child({ worker: message.index });
        producer = new ProducerSink(message.kafka, log, outbox.onReport, {
          onConnectedChange: () => post({ t: 'state', ...state() }),
        });
        setInterval(() => post({ t: 'state', ...state() }), message.heartbeatMs);
        void producer.start().then(() => post({ t: 'ready', ...state() }));
        break;
      }
      case 'send': {
        const { first } = message;
        producer!.send(unpackRecords(message.records), (i, outcome) => outbox.settle(first + i, outcome));
        break;
      }
      case 'close':
        void producer!.close(message.timeoutMs).then(() =>
          // Let the last settle callbacks run and their outcomes reach the pool, then exit: the pool waits for that.
          setImmediate(() => outbox.flush(() => process.exit(0))),
        );
        break;
    }
  });
}

main();
