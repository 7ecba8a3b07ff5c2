import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { ConfigInput } from '../../src/config/schema';
import type { CommitLogServiceClient } from '../../src/gen/commitlog/v1/CommitLogService';
import { loadCommitlogProto } from '../../src/server/proto';
import { freePort, kafka, storeEvent } from '../common';

/**
 * gRPC spoken by hand over node:http2, for what a well-behaved client library
 * never sends: random bytes, cut frames, lying lengths, bombs.
 */

export const COMMIT = '/commitlog.v1.CommitLogService/Commit';
export const COMMIT_STREAM = '/commitlog.v1.CommitLogService/CommitStream';

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, payload. */
export function frame(payload: Buffer, options: { compressed?: boolean; declaredLength?: number } = {}): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(options.compressed ? 1 : 0, 0);
  header.writeUInt32BE(options.declaredLength ?? payload.length, 1);
  return Buffer.concat([header, payload]);
}

export interface RawResult {
  /** grpc-status from the trailers (or a trailers-only response); undefined if the stream ended without one. */
  readonly grpcStatus: number | undefined;
  readonly grpcMessage: string;
  /** The HTTP :status of the response headers. */
  readonly httpStatus: number | undefined;
  /** Response payload bytes (length-prefixed messages). */
  readonly data: Buffer;
  /** The stream was reset rather than ended with a status (RST_STREAM code, or -1 for a session error). */
  readonly resetCode: number | undefined;
}

export interface RawCallOptions {
  readonly path?: string;
  readonly headers?: http2.OutgoingHttpHeaders;
  /** Half-close after the body (default true); false holds the stream open until `timeoutMs`. */
  readonly end?: boolean;
  readonly timeoutMs?: number;
}

/** One request on `session` (or a new connection to `address`), its status as data. */
export function rawCall(
  target: string | http2.ClientHttp2Session,
  body: Buffer | Buffer[],
  options: RawCallOptions = {},
): Promise<RawResult> {
  const own = typeof target === 'string';
  const session = typeof target === 'string' ? http2.connect(`http://${target}`) : target;
  if (own) session.on('error', () => undefined);
  return new Promise<RawResult>((resolve) => {
    const request = session.request({
      ':method': 'POST',
      ':path': options.path ?? COMMIT,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...options.headers,
    });
    const chunks: Buffer[] = [];
    let grpcStatus: number | undefined;
    let grpcMessage = '';
    let httpStatus: number | undefined;
    const take = (headers: http2.IncomingHttpHeaders): void => {
      if (headers[':status'] !== undefined) httpStatus = Number(headers[':status']);
      if (headers['grpc-status'] !== undefined) {
        grpcStatus = Number(headers['grpc-status']);
        grpcMessage = decodeURIComponent(String(headers['grpc-message'] ?? ''));
      }
    };
    const timer = setTimeout(() => request.close(http2.constants.NGHTTP2_CANCEL), options.timeoutMs ?? 30_000);
    request.on('response', take);
    request.on('trailers', take);
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server has ended its side (status sent): finish ours too, even if we held it open.
    request.on('end', () => request.close());
    request.on('error', () => undefined);
    request.on('close', () => {
      clearTimeout(timer);
      if (own) session.close();
      const resetCode = grpcStatus === undefined ? request.rstCode : undefined;
      resolve({ grpcStatus, grpcMessage, httpStatus, data: Buffer.concat(chunks), resetCode });
    });
    for (const part of Array.isArray(body) ? body : [body]) request.write(part);
    if (options.end ?? true) request.end();
  });
}

/** The acks of a unary Commit response body (one length-prefixed message). */
export function decodeAcks(result: RawResult): Array<{ id: string; outcome: string; code: number; message: string }> {
  if (result.data.length === 0) return [];
  const commit = loadCommitlogProto().commitlog.v1.CommitLogService.service.Commit;
  return commit.responseDeserialize(result.data.subarray(5)).acks;
}

/** A grpc-js client on `address`. */
export function commitClient(address: string): CommitLogServiceClient {
  return new (loadCommitlogProto().commitlog.v1.CommitLogService)(address, credentials.createInsecure());
}

/** One unary Commit of one event; resolves with its outcome name, or "status N". */
export function commitOne(
  client: CommitLogServiceClient,
  id: string,
  timeoutMs = 30_000,
  token?: string,
): Promise<string> {
  const metadata = new Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) =>
    client.Commit(
      { events: [storeEvent(id, id, `value of ${id}`)] },
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err, response) => resolve(err ? `status ${err.code}` : (response?.acks[0]?.outcome ?? 'no ack')),
    ),
  );
}

export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

export interface GatewayProcess {
  readonly address: string;
  readonly pid: number;
  readonly client: CommitLogServiceClient;
  close(): Promise<void>;
}

/**
 * The gateway in a process of its own (from the TypeScript sources, via tsx),
 * so that its RSS is its own; resolves once it delivers an event (sent with `token`, if given).
 */
export async function startGatewayProcess(settings: ConfigInput, token?: string): Promise<GatewayProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-hostile-'));
  const address = `127.0.0.1:${await freePort()}`;
  const file = path.join(dir, 'commitlog.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      ...settings,
      listen: address,
      log: { level: 'error' },
      kafka: { brokers: (await kafka()).brokers, lingerMs: 1, ...settings.kafka },
      telemetry: { metricsListen: '' },
      spill: { dir: path.join(dir, 'spill') },
    }),
  );
  const child: ChildProcess = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.join(__dirname, 'gateway-entry.ts'), 'serve', '--config', file],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const client = commitClient(address);
  const close = async (): Promise<void> => {
    client.close();
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    if ((await commitOne(client, `warm-${attempt}`, 5_000, token)) === 'OUTCOME_DELIVERED') break;
    if (attempt > 100 || child.exitCode !== null) {
      await close();
      throw new Error('gateway process did not come up');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { address, pid: child.pid!, client, close };
}
