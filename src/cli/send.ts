import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CommitLogClient, isDurable, type ClientEvent, type CommitOutcome, type Settlement } from '../client';

export interface SendOptions {
  address: string;
  file?: string;
  base64?: boolean;
  /** Events per Commit call, or per CommitStream message with --stream. */
  batch: number;
  /** Deadline of each Commit call (with --stream: how long an event may wait for its ack). */
  timeout: number;
  /** Send over one CommitStream instead of unary Commit calls. */
  stream?: boolean;
}

/**
 * `commitlog send`: one JSON event per input line, handed to the client (unary
 * Commit calls of up to `batch` events, or one CommitStream with --stream); one
 * JSON ack per event on stdout, in input order. Exit status 1 when any event was
 * not made durable, or a line could not be read.
 */
export async function sendCommand(options: SendOptions): Promise<void> {
  // Outcomes are printed in input order, so at most this many wait to be printed;
  // it is also the client's buffer cap, so reading never outruns sending.
  const window = Math.max(1_000, 4 * options.batch);
  const client = new CommitLogClient({
    address: options.address,
    mode: options.stream === true ? 'stream' : 'unary',
    batchSize: options.batch,
    deadlineMs: options.timeout,
    maxBufferedEvents: window,
  });
  const input = options.file === undefined ? process.stdin : createReadStream(options.file);
  const waiting: Promise<CommitOutcome>[] = [];
  let failed = 0;
  const printOldest = async (): Promise<void> => {
    const outcome = await waiting.shift()!;
    if (!isDurable(outcome)) failed++;
    process.stdout.write(`${JSON.stringify(printable(outcome))}\n`);
  };
  let lineNo = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    let event: ClientEvent;
    try {
      event = parseEvent(line, options.base64 === true);
    } catch (err) {
      failed++;
      process.stderr.write(`commitlog send: line ${lineNo}: ${(err as Error).message}\n`);
      continue;
    }
    waiting.push(client.commit(event));
    if (waiting.length >= window) await printOldest();
  }
  const closed = client.close();
  while (waiting.length > 0) await printOldest();
  await closed;
  process.exitCode = failed > 0 ? 1 : 0;
}

const FIELDS = new Set(['id', 'action', 'bucket', 'key', 'value', 'content_type', 'metadata', 'topic', 'commit_time']);

/** One input line → a ClientEvent; throws naming what is wrong. */
export function parseEvent(line: string, base64: boolean): ClientEvent {
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
  const commitTimeMs = commitTime === undefined ? undefined : Date.parse(commitTime);
  if (commitTimeMs !== undefined && Number.isNaN(commitTimeMs))
    throw new Error('commit_time: expected an RFC 3339 time');
  return {
    id: text('id'),
    action,
    bucket: text('bucket'),
    // The gateway names a missing key in its rejection; the client only needs bytes.
    key: bytes('key') ?? Buffer.alloc(0),
    value: bytes('value'),
    contentType: text('content_type'),
    metadata: metadata as Record<string, string>,
    topic: text('topic'),
    commitTime: commitTimeMs,
  };
}

const NAMES: Record<Settlement['kind'], string> = {
  delivered: 'DELIVERED',
  spilled: 'SPILLED',
  duplicate: 'DUPLICATE',
  dead_lettered: 'DEAD_LETTERED',
  rejected: 'REJECTED',
};

/** An outcome as printed: the ack's outcome name without the enum prefix, empty fields left out. */
function printable(outcome: CommitOutcome): Record<string, unknown> {
  const out: Record<string, unknown> = { id: outcome.id, outcome: NAMES[outcome.kind] };
  const where = outcome.kind === 'duplicate' ? outcome.first : outcome;
  if (outcome.kind === 'duplicate') out.first_outcome = NAMES[outcome.first.kind];
  if (where.kind === 'delivered')
    Object.assign(out, { topic: where.topic, partition: where.partition, offset: where.offset });
  if (where.kind === 'rejected' || where.kind === 'dead_lettered')
    Object.assign(out, { code: where.code, message: where.message });
  return out;
}
