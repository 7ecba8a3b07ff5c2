import { status as Status } from '@grpc/grpc-js';
import { CODES, type LibrdKafkaError } from 'node-rdkafka';
import type { Outcome } from '../sink';

const ERR = CODES.ERRORS;

/**
 * What a failed produce or delivery report means for the client. Permanent
 * broker answers (too large, not authorised, no such topic) are final; the
 * rest may pass when retried.
 */
export function deliveryFailure(err: LibrdKafkaError, deliveryTimeoutMs: number): Outcome {
  switch (err.code) {
    case ERR.ERR_MSG_SIZE_TOO_LARGE:
      return rejected(Status.INVALID_ARGUMENT, `record too large for Kafka: ${err.message}`);
    case ERR.ERR_TOPIC_AUTHORIZATION_FAILED:
      return rejected(Status.PERMISSION_DENIED, `Kafka denied writing to the topic: ${err.message}`);
    case ERR.ERR__UNKNOWN_TOPIC:
    case ERR.ERR_UNKNOWN_TOPIC_OR_PART:
      return rejected(Status.NOT_FOUND, `Kafka has no such topic: ${err.message}`);
    case ERR.ERR__MSG_TIMED_OUT:
      return rejected(
        Status.UNAVAILABLE,
        `not delivered to Kafka within ${deliveryTimeoutMs} ms (kafka.deliveryTimeoutMs): ${err.message}`,
      );
    default:
      return rejected(Status.UNAVAILABLE, `not delivered to Kafka: ${err.message} (librdkafka code ${err.code})`);
  }
}

export function rejected(code: Status, message: string): Outcome {
  return { kind: 'rejected', code, message };
}

const NAMES = new Map(Object.entries(ERR).map(([name, code]) => [code, name]));

/** librdkafka's name for an error code (ERR__MSG_TIMED_OUT), for metrics and logs. */
export function errorName(err: LibrdKafkaError): string {
  return NAMES.get(err.code) ?? `ERR_${err.code}`;
}
