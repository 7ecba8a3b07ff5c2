/** A server the load generators drive: the gateway or the echo server, each in its own process. */
export interface Target {
  /** What the report calls it. */
  readonly name: string;
  /** The process whose CPU and peak RSS are measured. */
  readonly pid: number;
  /** gRPC host:port. */
  readonly address: string;
  close(): Promise<void>;
}
