import type { ServiceError } from '@grpc/grpc-js';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import type { CommitLogServiceClient } from '../../src/gen/commitlog/v1/CommitLogService';
import type { CommitStreamResponse__Output } from '../../src/gen/commitlog/v1/CommitStreamResponse';
import { storeEvent } from '../common';
import { failed, type CallResult } from './grpc-clients';

/** A CommitStream that a client keeps writing batches to and never half-closes. */
export interface BusyStream {
  /** Ids written, in order. */
  readonly sent: string[];
  readonly acks: Ack__Output[];
  /** How the server ended the stream. */
  readonly ended: Promise<CallResult<null>>;
}

/**
 * Writes a batch of `batchSize` events every `intervalMs` (when the channel
 * takes them; flow control is respected) until the server ends the call.
 */
export function busyStream(
  client: CommitLogServiceClient,
  name: string,
  topic: string,
  batchSize = 20,
  intervalMs = 5,
): BusyStream {
  const call = client.CommitStream();
  const sent: string[] = [];
  const acks: Ack__Output[] = [];
  let writable = true;
  let over = false;
  call.on('data', (response: CommitStreamResponse__Output) => acks.push(...response.acks));
  call.on('drain', () => (writable = true));
  const ended = new Promise<CallResult<null>>((resolve) => {
    call.on('error', (err: ServiceError) => resolve(failed(err)));
    call.on('end', () => resolve({ ok: true, value: null }));
  }).finally(() => {
    over = true;
    clearInterval(timer);
  });
  const timer = setInterval(() => {
    if (over || !writable) return;
    const first = sent.length;
    const ids = Array.from({ length: batchSize }, (_, i) => `${name}-${first + i}`);
    sent.push(...ids);
    const events = ids.map((id, i) => storeEvent(id, `key-${(first + i) % 17}`, `value-${id}`, { topic }));
    writable = call.write({ events });
  }, intervalMs);
  return { sent, acks, ended };
}
