import { credentials, Metadata } from '@grpc/grpc-js';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Ack__Output } from '../gen/commitlog/v1/Ack';
import type { CommitEvent } from '../gen/commitlog/v1/CommitEvent';
import type { CommitLogServiceClient } from '../gen/commitlog/v1/CommitLogService';
import type { CommitResponse__Output } from '../gen/commitlog/v1/CommitResponse';
import { loadCommitlogProto } from '../server/proto';

export interface SendOptions {
  address: string;
  file?: string;
  base64?: boolean;
  batch: number;
  timeout: number;
}

/** Outcomes after which the event is durable. */
const DURABLE = new Set(['OUTCOME_DELIVERED', 'OUTCOME_SPILLED', 'OUTCOME_DUPLICATE']);

/**
 * `commitlog send`: one JSON event per input line, sent in unary Commit calls
 * of up to `batch` events; one JSON ack per event on stdout. Exit status 1
 * when any event was not made durable, or a line could not be read.
 */
export async function sendCommand(options: SendOptions): Promise<void> {
  const proto = loadCommitlogProto();
  const client = new proto.commitlog.v1.CommitLogService(options.address, credentials.createInsecure());
  const input = options.file === undefined ? process.stdin : createReadStream(options.file);
  let failed = 0;
  let batch: CommitEvent[] = [];
  let lineNo = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const events = batch;
    batch = [];
    try {
      const response = await commit(client, events, options.timeout);
      for (const ack of response.acks) {
        if (!DURABLE.has(ack.outcome)) failed++;
        process.stdout.write(`${JSON.stringify(printable(ack))}\n`);
      }
    } catch (err) {
      failed += events.length;
      process.stderr.write(`commitlog send: ${events.length} events not sent: ${(err as Error).message}\n`);
    }
  };
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    try {
      batch.push(parseEvent(line, options.base64 === true));
    } catch (err) {
      failed++;
      process.stderr.write(`commitlog send: line ${lineNo}: ${(err as Error).message}\n`);
      continue;
    }
    if (batch.length >= options.batch) await flush();
  }
  await flush();
  client.close();
  process.exitCode = failed > 0 ? 1 : 0;
}

function commit(
  client: CommitLogServiceClient,
  events: CommitEvent[],
  timeoutMs: number,
): Promise<CommitResponse__Output> {
  return new Promise((resolve, reject) => {
    client.Commit({ events }, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, response) =>
      err || response === undefined ? reject(err ?? new Error('empty response')) : resolve(response),
    );
  });
}

const FIELDS = new Set(['id', 'action', 'bucket', 'key', 'value', 'content_type', 'metadata', 'topic', 'commit_time']);

/** One input line → a CommitEvent; throws naming what is wrong. */
export function parseEvent(line: string, base64: boolean): CommitEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('expected a JSON object');
  const object = raw as Record<string, unknown>;
  for (const name of Object.keys(object)) {
    if (!FIELDS.has(name)) throw new Error(`unknown field "${name}" (expected one of ${[...FIELDS].join(', ')})`);
  }
  const text = (name: string): string | undefined => {
    const value = object[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw new Error(`${name}: expected a string`);
    return value;
  };
  const bytes = (name: string): Buffer | undefined => {
    const value = text(name);
    return value === undefined ? undefined : Buffer.from(value, base64 ? 'base64' : 'utf8');
  };
  const action = (text('action') ?? 'STORE').toUpperCase();
  if (action !== 'STORE' && action !== 'DELETE') throw new Error('action: expected "STORE" or "DELETE"');
  const metadata = object.metadata ?? {};
  if (
    typeof metadata !== 'object' ||
    metadata === null ||
    Array.isArray(metadata) ||
    Object.values(metadata).some((v) => typeof v !== 'string')
  ) {
    throw new Error('metadata: expected an object of strings');
  }
  const commitTime = text('commit_time');
  let commitTimeMs: number | undefined;
  if (commitTime !== undefined) {
    commitTimeMs = Date.parse(commitTime);
    if (Number.isNaN(commitTimeMs)) throw new Error('commit_time: expected an RFC 3339 time');
  }
  return {
    id: text('id'),
    action: action === 'DELETE' ? 'ACTION_DELETE' : 'ACTION_STORE',
    bucket: text('bucket'),
    key: bytes('key'),
    value: bytes('value'),
    contentType: text('content_type'),
    metadata: metadata as Record<string, string>,
    topic: text('topic'),
    commitTime:
      commitTimeMs === undefined
        ? null
        : { seconds: Math.floor(commitTimeMs / 1000), nanos: (commitTimeMs % 1000) * 1e6 },
  };
}

/** An ack as printed: outcome names without the enum prefix, empty fields left out. */
function printable(ack: Ack__Output): Record<string, unknown> {
  const out: Record<string, unknown> = { id: ack.id, outcome: ack.outcome.replace('OUTCOME_', '') };
  if (ack.topic !== '') Object.assign(out, { topic: ack.topic, partition: ack.partition, offset: ack.offset });
  if (ack.firstOutcome !== 'OUTCOME_UNSPECIFIED') out.first_outcome = ack.firstOutcome.replace('OUTCOME_', '');
  if (ack.code !== 0) Object.assign(out, { code: ack.code, message: ack.message });
  return out;
}
