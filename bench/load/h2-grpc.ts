import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';

/** gRPC's length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length. */
export const FRAME_HEADER_BYTES = 5;

const SESSION_MEMORY_MB = 1024;
const REQUEST_HEADERS = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' } as const;

/**
 * A minimal gRPC client straight on node:http2, for the load generator only:
 * requests arrive already framed (RequestTemplate leaves the 5 header bytes
 * free) and responses are handed over as raw message bytes. grpc-js's client
 * spends about three times the CPU of its server per unary call (call stack,
 * interceptors, metadata, status objects); this one does the HTTP/2 request
 * and nothing else, so the generator stays cheaper than the server it loads.
 * No compression, no retries, no deadlines: what the benchmark does not use.
 */
export class H2GrpcConnection {
  readonly #address: string;
  #session: ClientHttp2Session;
  readonly #connected: Promise<void>;

  constructor(address: string) {
    this.#address = address;
    this.#session = this.#connect();
    this.#connected = new Promise((resolve, reject) => {
      this.#session.once('connect', () => resolve());
      this.#session.once('error', reject);
    });
  }

  ready(): Promise<void> {
    return this.#connected;
  }

  /** One unary call; `framed` starts with FRAME_HEADER_BYTES free bytes, filled here. */
  unary(path: string, framed: Buffer, done: (err: string | undefined, response?: Buffer) => void): void {
    const stream = this.#request(path);
    const reader = new FrameReader();
    let response: Buffer | undefined;
    let status: string | undefined;
    stream.on('response', (headers) => (status ??= statusOf(headers)));
    stream.on('trailers', (trailers: IncomingHttpHeaders) => (status = statusOf(trailers)));
    stream.on('data', (chunk: Buffer) => reader.push(chunk, (message) => (response = message)));
    stream.on('error', (err: Error) => (status = err.message));
    stream.on('close', () => {
      if (status === '0' && response !== undefined) done(undefined, response);
      else done(status === undefined || status === '0' ? 'no response message' : `grpc-status ${status}`);
    });
    stream.end(frame(framed));
  }

  /** A bidirectional call: `onMessage` per response message, `onEnd` once with an error text or undefined. */
  stream(path: string, onMessage: (message: Buffer) => void, onEnd: (err: string | undefined) => void): H2GrpcStream {
    return new H2GrpcStream(this.#request(path), onMessage, onEnd);
  }

  close(): void {
    this.#session.destroy();
  }

  #connect(): ClientHttp2Session {
    // Node's default of 10 MB of session memory is soon used up by thousands of
    // open-loop calls in flight, and the session is then torn down (ENHANCE_YOUR_CALM).
    const session = http2.connect(`http://${this.#address}`, { maxSessionMemory: SESSION_MEMORY_MB });
    // Errors surface on the streams too; a lost session is replaced on the next request.
    session.on('error', () => undefined);
    return session;
  }

  #request(path: string): ClientHttp2Stream {
    if (this.#session.closed || this.#session.destroyed) this.#session = this.#connect();
    return this.#session.request({ ...REQUEST_HEADERS, ':path': path });
  }
}

export class H2GrpcStream {
  readonly #stream: ClientHttp2Stream;

  constructor(
    stream: ClientHttp2Stream,
    onMessage: (message: Buffer) => void,
    onEnd: (err: string | undefined) => void,
  ) {
    this.#stream = stream;
    const reader = new FrameReader();
    let status: string | undefined;
    stream.on('response', (headers) => (status ??= statusOf(headers)));
    stream.on('trailers', (trailers: IncomingHttpHeaders) => (status = statusOf(trailers)));
    stream.on('data', (chunk: Buffer) => reader.push(chunk, onMessage));
    stream.on('error', (err: Error) => (status = err.message));
    stream.on('close', () => onEnd(status === '0' ? undefined : `grpc-status ${status ?? 'missing'}`));
  }

  /** Writes one framed message; false when HTTP/2 flow control holds it back (wait for drain). */
  write(framed: Buffer): boolean {
    return this.#stream.write(frame(framed));
  }

  onceDrain(callback: () => void): void {
    this.#stream.once('drain', callback);
  }

  cancel(): void {
    this.#stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

/** Fills in the gRPC frame header of a buffer that starts with FRAME_HEADER_BYTES free bytes. */
function frame(framed: Buffer): Buffer {
  framed[0] = 0;
  framed.writeUInt32BE(framed.length - FRAME_HEADER_BYTES, 1);
  return framed;
}

function statusOf(headers: IncomingHttpHeaders): string | undefined {
  const status = headers['grpc-status'];
  return Array.isArray(status) ? status[0] : status;
}

/** Splits a stream of DATA bytes into gRPC messages, whatever the chunk boundaries. */
class FrameReader {
  #pending: Buffer | undefined;

  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (buf.length >= FRAME_HEADER_BYTES) {
      const length = buf.readUInt32BE(1);
      if (buf.length < FRAME_HEADER_BYTES + length) break;
      onMessage(buf.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length));
      buf = buf.subarray(FRAME_HEADER_BYTES + length);
    }
    this.#pending = buf.length > 0 ? buf : undefined;
  }
}
