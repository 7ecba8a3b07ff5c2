import type { Sink } from '../sink';

/**
 * What the spill fallback and the replayer need of a producer: one
 * librdkafka producer in this thread (ProducerSink) or a supervised pool of
 * them in worker processes (ProducerPool).
 */
export interface KafkaProducer extends Sink {
  /** True once records can be handed to Kafka (at least one producer reached the cluster). */
  readonly connected: boolean;
  /** Whether a record handed over now can be expected to reach Kafka (see ProducerSink.available). */
  readonly available: boolean;
  /** The last error librdkafka reported, for messages. */
  readonly lastError: string;
  /** Records taken and not yet settled. */
  readonly inFlight: number;
  /** Why the producer has given up for good (a pool past its restart budget); undefined while it works. */
  readonly failure: string | undefined;
  /** One attempt to reach the cluster; keeps trying in the background when it fails. */
  start(): Promise<void>;
  /** Gives what it holds until `timeoutMs` to be delivered and settles the rest as not delivered. */
  close(timeoutMs: number): Promise<void>;
}
