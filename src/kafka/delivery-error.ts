import { status as Status } from '@grpc/grpc-js';
import { CODES, type LibrdKafkaError } from 'node-rdkafka';
import type { Outcome } from '../sink';

const ERR = CODES.ERRORS;

/**
 * What a failed produce or delivery report means for the client. Permanent
 * broker answers (too large, bad timestamp, not authorised, no such topic) are final; the
 * rest may pass when retried.
 */
export function deliveryFailure(err: LibrdKafkaError, deliveryTimeoutMs: number): Outcome {
  switch (codeOf(err)) {
    case ERR.ERR_MSG_SIZE_TOO_LARGE:
      return rejected(Status.INVALID_ARGUMENT, `record too large for Kafka: ${err.message}`);
    case ERR.ERR_INVALID_TIMESTAMP:
      // Kafka 4 refuses timestamps more than log.message.timestamp.after.max.ms (1 h) ahead.
      return rejected(Status.INVALID_ARGUMENT, `Kafka refused the record's timestamp (commit_time): ${err.message}`);
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
      return rejected(Status.UNAVAILABLE, `not delivered to Kafka: ${err.message} (${errorName(err)})`);
  }
}

/** The codes deliveryFailure gives Kafka's permanent answers: retrying the same record cannot help. */
const PERMANENT = new Set<number>([Status.INVALID_ARGUMENT, Status.PERMISSION_DENIED, Status.NOT_FOUND]);

/** A producer outcome that must go to the dead-letter log rather than be retried (DESIGN.md §2). */
export function isPermanentFailure(outcome: Extract<Outcome, { kind: 'rejected' }>): boolean {
  return PERMANENT.has(outcome.code);
}

export function rejected(code: Status, message: string): Outcome {
  return { kind: 'rejected', code, message };
}

const NAMES = new Map(Object.entries(ERR).map(([name, code]) => [code, name]));

// node-rdkafka hands delivery-report errors over as plain Errors whose code it
// cannot recover (-1), only librdkafka's text without its "Broker: " prefix,
// lower-cased. librdkafka's own err2str gives the way back to the code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { err2str } = require('node-rdkafka/librdkafka.js') as { err2str: (code: number) => string };
const CODES_BY_TEXT = new Map(
  Object.values(ERR).map((code) => {
    const text = err2str(code);
    return [(text.includes(': ') ? text.slice(text.indexOf(': ') + 2) : text).toLowerCase(), code];
  }),
);

/** The librdkafka error code of an error, also when node-rdkafka lost it. */
function codeOf(err: LibrdKafkaError): number {
  return err.code !== -1 ? err.code : (CODES_BY_TEXT.get(err.message.toLowerCase()) ?? -1);
}

/** librdkafka's name for an error code (ERR__MSG_TIMED_OUT), for metrics and logs. */
export function errorName(err: LibrdKafkaError): string {
  const code = codeOf(err);
  return NAMES.get(code) ?? `ERR_${code}`;
}
