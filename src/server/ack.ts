import type { Ack } from '../gen/commitlog/v1/Ack';
import type { Outcome } from '../sink';

/** The wire form of an outcome. */
export function toAck(id: string, outcome: Outcome): Ack {
  switch (outcome.kind) {
    case 'delivered':
      return {
        id,
        outcome: 'OUTCOME_DELIVERED',
        topic: outcome.topic,
        partition: outcome.partition,
        offset: wireOffset(outcome.offset),
      };
    case 'spilled':
      return { id, outcome: 'OUTCOME_SPILLED' };
    case 'dead_lettered':
      return { id, outcome: 'OUTCOME_DEAD_LETTERED', code: outcome.code, message: outcome.message };
    case 'duplicate': {
      const first = toAck(id, outcome.first);
      return { ...first, outcome: 'OUTCOME_DUPLICATE', firstOutcome: first.outcome };
    }
    case 'rejected':
      return { id, outcome: 'OUTCOME_REJECTED', code: outcome.code, message: outcome.message };
  }
}

/**
 * A number where it is exact (up to 15 digits, far below 2^53), else the
 * decimal string: protobufjs turns a string into a Long digit by digit, which
 * made serializing an ack about 10% dearer.
 */
function wireOffset(offset: string): number | string {
  return offset.length <= 15 ? Number(offset) : offset;
}
