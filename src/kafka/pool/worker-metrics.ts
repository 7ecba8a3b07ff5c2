import type { Meter, ObservableResult } from '@opentelemetry/api';
import type { WorkerInfo } from './producer-pool';

/**
 * Per-worker instruments of the producer pool, read from the pool at each
 * collection: records in flight, delivered and failed, and restarts, each
 * with a `worker` attribute (the slot index, stable across restarts).
 */
export class WorkerMetrics {
  readonly #close: () => void;

  constructor(meter: Meter, workers: () => readonly WorkerInfo[]) {
    const inFlight = meter.createObservableGauge('commitlog.worker.inflight', {
      unit: '{record}',
      description: 'Records handed to a producer worker and not yet answered',
    });
    const delivered = meter.createObservableCounter('commitlog.worker.delivered', {
      unit: '{record}',
      description: 'Records a producer worker delivered to Kafka',
    });
    const errors = meter.createObservableCounter('commitlog.worker.errors', {
      unit: '{record}',
      description: 'Records a producer worker answered with a failure (spilled or dead-lettered after)',
    });
    const restarts = meter.createObservableCounter('commitlog.worker.restarts', {
      unit: '{restart}',
      description: 'Producer workers restarted after a crash or a hang',
    });
    const observe = (read: (w: WorkerInfo) => number) => (result: ObservableResult) => {
      for (const w of workers()) result.observe(read(w), { worker: w.index });
    };
    const callbacks = [
      [inFlight, observe((w) => w.inFlight)],
      [delivered, observe((w) => w.delivered)],
      [errors, observe((w) => w.errors)],
      [restarts, observe((w) => w.restarts)],
    ] as const;
    for (const [instrument, callback] of callbacks) instrument.addCallback(callback);
    this.#close = () => {
      for (const [instrument, callback] of callbacks) instrument.removeCallback(callback);
    };
  }

  close(): void {
    this.#close();
  }
}
