/**
 * The transport ceiling: a grpc-js server of the same proto and the same
 * (proto-loader) serializers as the gateway, answering every event at once
 * with a DELIVERED ack and no Kafka behind it. Forked by EchoTarget; tells it
 * its address over IPC and exits when the channel closes.
 */
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Ack } from '../../src/gen/commitlog/v1/Ack';
import type { CommitEvent__Output } from '../../src/gen/commitlog/v1/CommitEvent';
import type { CommitRequest__Output } from '../../src/gen/commitlog/v1/CommitRequest';
import type { CommitResponse } from '../../src/gen/commitlog/v1/CommitResponse';
import type { CommitStreamRequest__Output } from '../../src/gen/commitlog/v1/CommitStreamRequest';
import type { CommitStreamResponse } from '../../src/gen/commitlog/v1/CommitStreamResponse';
import { loadCommitlogProto } from '../../src/server/proto';

const TOPIC = 'echo';

function main(): void {
  let offset = 0;
  const acks = (events: CommitEvent__Output[]): Ack[] =>
    events.map((event) => ({
      id: event.id,
      outcome: 'OUTCOME_DELIVERED',
      topic: TOPIC,
      partition: 0,
      offset: String(offset++),
    }));
  const server = new Server();
  server.addService(loadCommitlogProto().commitlog.v1.CommitLogService.service, {
    Commit(
      call: ServerUnaryCall<CommitRequest__Output, CommitResponse>,
      callback: (err: null, response: CommitResponse) => void,
    ): void {
      callback(null, { acks: acks(call.request.events) });
    },
    CommitStream(call: ServerDuplexStream<CommitStreamRequest__Output, CommitStreamResponse>): void {
      call.on('data', (request: CommitStreamRequest__Output) => call.write({ acks: acks(request.events) }));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.send?.({ type: 'failed', message: err.message });
      return;
    }
    process.send?.({ type: 'ready', address: `127.0.0.1:${port}` });
  });
  process.on('disconnect', () => {
    server.forceShutdown();
    process.exit(0);
  });
}

main();
