import type { ServerOptions } from '@grpc/grpc-js';
import type { Config } from '../config/schema';

/**
 * The grpc-js channel options of the server, from `limits` and `grpc`. A
 * setting of 0 ("off") is left out, so grpc-js keeps its own default: no limit.
 */
export function grpcServerOptions(config: Config): ServerOptions {
  const grpc = config.grpc;
  const options: ServerOptions = {
    'grpc.max_receive_message_length': config.limits.maxMessageBytes,
    'grpc.keepalive_timeout_ms': grpc.keepaliveTimeoutMs,
    'grpc.max_concurrent_streams': grpc.maxConcurrentStreams,
  };
  const optional = {
    'grpc.keepalive_time_ms': grpc.keepaliveTimeMs,
    'grpc.max_connection_age_ms': grpc.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': grpc.maxConnectionAgeGraceMs,
    'grpc.max_connection_idle_ms': grpc.maxConnectionIdleMs,
  };
  for (const [name, value] of Object.entries(optional)) if (value > 0) options[name] = value;
  return options;
}
