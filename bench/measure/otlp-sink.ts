import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the sink received since the last reset. */
export interface SinkCounts {
  requests: number;
  bytes: number;
  /** Requests per path, e.g. /v1/traces, /v1/metrics. */
  byPath: Record<string, number>;
}

/**
 * A stand-in OTLP/HTTP collector for the telemetry scenario: accepts every
 * POST, reads the body, answers 200 with an empty (valid, empty protobuf)
 * export response, and counts what came in. So the gateway pays the whole
 * cost of exporting, and none of a real collector's.
 */
export class OtlpSink {
  readonly #server: Server;
  #counts: SinkCounts = { requests: 0, bytes: 0, byPath: {} };

  constructor() {
    this.#server = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.#counts.requests++;
        this.#counts.bytes += bytes;
        this.#counts.byPath[path] = (this.#counts.byPath[path] ?? 0) + 1;
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  /** The OTLP base URL (telemetry.otlpEndpoint). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** What arrived since the previous call. */
  take(): SinkCounts {
    const counts = this.#counts;
    this.#counts = { requests: 0, bytes: 0, byPath: {} };
    return counts;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
