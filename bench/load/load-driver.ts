/** One way of generating load (CommitStream, unary Commit, or node-rdkafka directly). */
export interface LoadDriver {
  /** Resolves once the target can be reached (channel ready, producer connected). */
  ready(): Promise<void>;
  /** Starts sending; counting is the recorder's business (measured window only). */
  run(): void;
  /** Stops sending new events; what is in flight may still be acked. */
  stop(): void;
  /** Drops connections; the process exits after it. */
  close(): void | Promise<void>;
}
