import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import type { Ack__Output } from '../../src/gen/commitlog/v1/Ack';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';

/** One message through an intercepted call, in the order they happened. */
export type WireEntry =
  | { readonly call: number; readonly sent: readonly string[] }
  | { readonly call: number; readonly acks: readonly Ack__Output[] };

/** What went over the wire, seen from inside grpc-js, independent of the client's own counters. */
export interface WireLog {
  /** Calls started, by method name (Commit, CommitStream). */
  readonly calls: Map<string, number>;
  /** Request messages sent, by method name. */
  readonly messages: Map<string, number>;
  /** Every ack received, in arrival order. */
  readonly acks: Ack__Output[];
  /** Event ids sent and acks received, per call (numbered from 0 in start order). */
  readonly entries: WireEntry[];
  readonly interceptor: Interceptor;
}

export function wireLog(): WireLog {
  const calls = new Map<string, number>();
  const messages = new Map<string, number>();
  const acks: Ack__Output[] = [];
  const entries: WireEntry[] = [];
  let started = 0;
  const bump = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);
  const interceptor: Interceptor = (options, nextCall) => {
    const method = options.method_definition.path.split('/').pop() ?? '';
    const call = started++;
    return new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        bump(calls, method);
        // A listener of our own: grpc-js passes one whose methods live on its prototype, so it cannot be spread.
        next(metadata, {
          onReceiveMessage(message: { acks: Ack__Output[] } | null, nextMessage: (message: unknown) => void) {
            // null: a unary call that failed.
            if (message !== null) {
              acks.push(...message.acks);
              entries.push({ call, acks: message.acks });
            }
            nextMessage(message);
          },
        });
      },
      sendMessage(message: { events: CommitEvent[] }, next) {
        bump(messages, method);
        entries.push({ call, sent: message.events.map((e) => e.id ?? '') });
        next(message);
      },
    });
  };
  return { calls, messages, acks, entries, interceptor };
}
