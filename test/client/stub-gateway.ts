import {
  Metadata,
  Server,
  ServerCredentials,
  status as Status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
} from '@grpc/grpc-js';
import type { Ack } from '../../src/gen/commitlog/v1/Ack';
import type { CommitEvent__Output } from '../../src/gen/commitlog/v1/CommitEvent';
import type { CommitRequest__Output } from '../../src/gen/commitlog/v1/CommitRequest';
import type { CommitResponse } from '../../src/gen/commitlog/v1/CommitResponse';
import type { CommitStreamRequest__Output } from '../../src/gen/commitlog/v1/CommitStreamRequest';
import type { CommitStreamResponse } from '../../src/gen/commitlog/v1/CommitStreamResponse';
import { loadCommitlogProto } from '../../src/server/proto';

/**
 * A scripted stand-in for the gateway, for what the real one cannot be made to
 * do on cue: answer RESOURCE_EXHAUSTED with a pushback hint, reject one event
 * with a retryable code, hang, or break a stream after half its acks.
 */

export type UnaryReply = { acks: Ack[] } | { code: Status; details: string; pushbackMs?: number } | 'hang';

export type StreamCall = ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>;

export interface StubScript {
  /** Answers the n-th Commit call (0-based). Default: every event delivered. */
  commit?(events: CommitEvent__Output[], n: number): UnaryReply;
  /** Handles one message of the n-th CommitStream call (0-based). Default: every event delivered. */
  stream?(events: CommitEvent__Output[], call: StreamCall, n: number): void;
}

export interface Received {
  readonly method: 'Commit' | 'CommitStream';
  /** Which call of its method (0-based). */
  readonly n: number;
  readonly at: number;
  readonly ids: string[];
  readonly metadata: Metadata;
}

export interface StubGateway {
  readonly address: string;
  /** Every Commit request and CommitStream message, in arrival order. */
  readonly received: Received[];
  close(): Promise<void>;
}

let offset = 0;

export function delivered(id: string): Ack {
  return { id, outcome: 'OUTCOME_DELIVERED', topic: 'stub', partition: 0, offset: String(offset++) };
}

export function rejected(id: string, code: Status, message: string): Ack {
  return { id, outcome: 'OUTCOME_REJECTED', code, message };
}

export async function startStub(
  script: StubScript = {},
  credentials: ServerCredentials = ServerCredentials.createInsecure(),
  host = '127.0.0.1',
): Promise<StubGateway> {
  const received: Received[] = [];
  let commits = 0;
  let streams = 0;
  const server = new Server();
  const hung: Array<() => void> = [];
  server.addService(loadCommitlogProto().commitlog.v1.CommitLogService.service, {
    Commit(call: ServerUnaryCall<CommitRequest__Output, CommitResponse>, callback: sendUnaryData<CommitResponse>) {
      const n = commits++;
      const events = call.request.events;
      received.push({ method: 'Commit', n, at: Date.now(), ids: events.map((e) => e.id), metadata: call.metadata });
      const reply = script.commit?.(events, n) ?? { acks: events.map((e) => delivered(e.id)) };
      if (reply === 'hang') {
        hung.push(() => callback({ code: Status.UNAVAILABLE, details: 'stub closed' }));
      } else if ('acks' in reply) {
        callback(null, { acks: reply.acks });
      } else {
        const trailer = new Metadata();
        if (reply.pushbackMs !== undefined) trailer.set('grpc-retry-pushback-ms', String(reply.pushbackMs));
        callback({ code: reply.code, details: reply.details, metadata: trailer });
      }
    },
    CommitStream(call: StreamCall) {
      const n = streams++;
      call.on('data', (request: CommitStreamRequest__Output) => {
        const events = request.events;
        received.push({
          method: 'CommitStream',
          n,
          at: Date.now(),
          ids: events.map((e) => e.id),
          metadata: call.metadata,
        });
        if (script.stream !== undefined) script.stream(events, call, n);
        else call.write({ acks: events.map((e) => delivered(e.id)) });
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    address: `${host}:${port}`,
    received,
    close: () => {
      for (const release of hung) release();
      server.forceShutdown();
      return Promise.resolve();
    },
  };
}
