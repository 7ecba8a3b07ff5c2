import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { autoWorkers } from './cpu-quota';

const KiB = 1024;
const MiB = 1024 * KiB;

/** host:port, with IPv6 hosts in brackets ("[::1]:50051"). */
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/, 'expected host:port, e.g. 0.0.0.0:50051')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

type KafkaSettings = z.output<typeof kafkaSchema>;
type KafkaProperties = KafkaSettings['properties'];

/** The SASL properties librdkafka gets from kafka.sasl; also in kafka.properties is an error. */
const SASL_PROPERTIES = ['sasl.mechanisms', 'sasl.mechanism', 'sasl.username', 'sasl.password'];

/**
 * Folds kafka.sasl into the librdkafka properties, reading its files. A file
 * that cannot be read stops start-up naming the setting. security.protocol
 * defaults to SASL_SSL: a password is not sent in clear text unless
 * kafka.properties says SASL_PLAINTEXT.
 */
function withSaslProperties(kafka: KafkaSettings, ctx: z.RefinementCtx<KafkaSettings>): KafkaSettings {
  const sasl = kafka.sasl;
  if (sasl === undefined) return kafka;
  const issue = (path: string[], message: string): KafkaSettings => {
    ctx.addIssue({ code: 'custom', path, message });
    return kafka;
  };
  for (const name of SASL_PROPERTIES) {
    if (name in kafka.properties) return issue(['properties', name], 'set by kafka.sasl: set it in one place only');
  }
  const protocol = kafka.properties['security.protocol'] ?? 'SASL_SSL';
  if (protocol !== 'SASL_SSL' && protocol !== 'SASL_PLAINTEXT') {
    return issue(['properties', 'security.protocol'], 'kafka.sasl needs SASL_SSL or SASL_PLAINTEXT');
  }
  const read = (file: string, field: string): string | undefined => {
    try {
      // A trailing newline (echo, kubectl create secret --from-file) is not part of the secret.
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      issue(['sasl', field], `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return undefined;
    }
  };
  const username = sasl.username ?? read(sasl.usernameFile!, 'usernameFile');
  const password = read(sasl.passwordFile, 'passwordFile');
  if (username === undefined || password === undefined) return kafka;
  const properties: KafkaProperties = {
    ...kafka.properties,
    'security.protocol': protocol,
    'sasl.mechanisms': sasl.mechanism,
    'sasl.username': username,
    'sasl.password': password,
  };
  return { ...kafka, properties };
}

/** Kafka's legal topic names (kafka.common.internals.Topic). */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const topicName = z.string().regex(TOPIC_NAME, 'expected a Kafka topic name: 1-249 characters of [a-zA-Z0-9._-]');

const count = (min: number, max: number, fallback: number) => z.int().min(min).max(max).default(fallback);

const kafkaSchema = z.strictObject({
  /** Bootstrap list, "host:port,host:port". */
  brokers: z.string().min(1).default('127.0.0.1:9092'),
  clientId: z.string().min(1).default('commitlog'),
  /** librdkafka linger.ms: how long a batch waits to fill. */
  lingerMs: z.number().min(0).max(900_000).default(1),
  /** librdkafka batch.size: the most bytes in one MessageSet. */
  batchBytes: count(1, 2_147_483_647, 1 * MiB),
  /** librdkafka batch.num.messages. */
  batchMessages: count(1, 1_000_000, 10_000),
  compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('lz4'),
  /** librdkafka message.timeout.ms bounds total delivery time, retries included. */
  deliveryTimeoutMs: count(1_000, 2_147_483_647, 30_000),
  /** librdkafka queue.buffering.max.messages and .kbytes: the producer's own queue. */
  queueMessages: count(1, 2_147_483_647, 100_000),
  queueKbytes: count(1, 2_147_483_647, 1 * MiB),
  /** How often delivery reports are collected; an upper bound on the latency they add. */
  pollIntervalMs: count(1, 1_000, 2),
  /** How long one attempt to reach the cluster at start-up may take. */
  connectTimeoutMs: count(100, 600_000, 10_000),
  /** More librdkafka properties, passed through as they are (security.protocol, sasl.*, ssl.*). */
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /**
   * SASL credentials from files (a mounted Secret), so that no password sits in the config
   * file; read once at start and handed to librdkafka as sasl.mechanisms/username/password.
   */
  sasl: z
    .strictObject({
      mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
      username: z.string().min(1).optional(),
      usernameFile: z.string().min(1).optional(),
      passwordFile: z.string().min(1),
    })
    .refine((s) => (s.username === undefined) !== (s.usernameFile === undefined), 'set username or usernameFile')
    .optional(),
});

const routingSchema = z.strictObject({
  /** Where an event goes when neither its own topic nor its bucket's mapping says. */
  defaultTopic: topicName.default('commits'),
  /** Per-bucket topics. */
  bucketTopics: z.record(z.string(), topicName).default({}),
  /** Whether an event may name its own topic. */
  allowEventTopic: z.boolean().default(true),
  /** Kafka record key: the event key, or "bucket/key" when buckets share a topic. */
  kafkaKey: z.enum(['key', 'bucket_key']).default('key'),
});

const limitsSchema = z.strictObject({
  /** grpc.max_receive_message_length. */
  maxMessageBytes: count(1 * KiB, 1024 * MiB, 16 * MiB),
  maxEventsPerMessage: count(1, 1_000_000, 1_000),
  maxIdBytes: count(1, 64 * KiB, 256),
  maxKeyBytes: count(1, 16 * MiB, 64 * KiB),
  /** Keep below the broker's message.max.bytes (1 MiB by default). */
  maxValueBytes: count(0, 1024 * MiB, 1_000_000),
  /** The bucket becomes a header, and part of the Kafka key with routing.kafkaKey bucket_key. */
  maxBucketBytes: count(1, 64 * KiB, 1 * KiB),
  /** content_type becomes the commitlog-content-type header. */
  maxContentTypeBytes: count(1, 64 * KiB, 256),
  maxMetadataEntries: count(0, 10_000, 64),
  /** Names plus values of all metadata entries of one event. */
  maxMetadataBytes: count(0, 16 * MiB, 16 * KiB),
  /**
   * How far past the gateway's clock commit_time may be; 0: no check. Kafka 4 brokers refuse
   * records more than message.timestamp.after.max.ms (1 hour) ahead (INVALID_TIMESTAMP), which
   * the producer takes as retryable: such a record was spilled and replayed in vain.
   */
  maxCommitTimeAheadMs: count(0, 2_147_483_647, 3_600_000),
});

const dedupSchema = z.strictObject({
  /** Ids remembered at most; 0 turns deduplication off. About 170 bytes plus the id each (docs/limits.md). */
  maxEntries: count(0, 50_000_000, 100_000),
  /** How long after it settled an id still catches retries. */
  windowMs: count(0, 86_400_000, 600_000),
});

const admissionSchema = z.strictObject({
  /** Events received and not yet settled, across all calls. */
  maxInFlightEvents: count(1, 10_000_000, 50_000),
  /** Their key, value, id and metadata bytes. */
  maxInFlightBytes: count(1 * KiB, 64 * 1024 * MiB, 128 * MiB),
  /** The retry hint a unary call refused for lack of room carries (trailer retry-after-ms). */
  retryAfterMs: count(1, 600_000, 200),
});

/** A duration in ms where 0 turns the feature off. */
const msOrOff = (min: number, fallback: number) =>
  z
    .int()
    .min(0)
    .max(2_147_483_647)
    .refine((v) => v === 0 || v >= min, `0 (off) or at least ${min}`)
    .default(fallback);

/**
 * gRPC server settings (grpc-js channel options, docs/configuration.md). grpc-js
 * leaves ping policing to Node's http2 module, which answers every ping: there is
 * no min_ping_interval / max_ping_strikes to set, and clients may ping as often as they like.
 */
const grpcSchema = z.strictObject({
  /** Server reflection (grpc.reflection.v1 and v1alpha), so grpcurl and friends can list and call the API. */
  reflection: z.boolean().default(true),
  /** grpc.keepalive_time_ms: how often the server pings each connection, to find peers that are gone. */
  keepaliveTimeMs: msOrOff(1_000, 60_000),
  /** grpc.keepalive_timeout_ms: how long a ping may go unanswered before the connection is dropped. */
  keepaliveTimeoutMs: count(1_000, 600_000, 20_000),
  /** grpc.max_concurrent_streams: calls open at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: count(1, 2_147_483_647, 1_000),
  /** grpc.max_connection_age_ms: a connection gets GOAWAY after about this long, so clients spread over new pods. */
  maxConnectionAgeMs: msOrOff(1_000, 0),
  /** grpc.max_connection_age_grace_ms: how long calls open at GOAWAY may go on before the connection is cut. */
  maxConnectionAgeGraceMs: msOrOff(1_000, 0),
  /** grpc.max_connection_idle_ms: a connection without calls for this long gets GOAWAY. */
  maxConnectionIdleMs: msOrOff(1_000, 0),
  /**
   * A call without a message either way for this long, while it owes the client no ack,
   * ends UNAVAILABLE (slow-loris streams); health and reflection are exempt. Not a grpc-js option.
   */
  maxCallIdleMs: msOrOff(1_000, 0),
});

/** The spill log (DESIGN.md §4, docs/spill-format.md). */
const spillSchema = z.strictObject({
  /** The pod's own spill directory (a PersistentVolumeClaim in Kubernetes); dead letters in <dir>/dead. */
  dir: z.string().min(1).default('.spill'),
  /** Disk cap for spill and dead-letter segments together; past it new events get RESOURCE_EXHAUSTED, nothing old is evicted. */
  maxBytes: count(1 * MiB, Number.MAX_SAFE_INTEGER, 1024 * MiB),
  /** A segment is sealed and a new one started past this size; replay deletes whole segments. */
  segmentBytes: count(64 * KiB, 1024 * MiB, 16 * MiB),
  replay: z
    .strictObject({
      /** Records per replay round, the most replay has with librdkafka at once: its share of the producer queue. */
      batch: count(1, 100_000, 1_000),
      /** Records per second at most; 0 = as fast as Kafka takes them. */
      ratePerSecond: count(0, 10_000_000, 0),
      /** Wait after a failed round (Kafka still down) before the next try. */
      retryMs: count(10, 600_000, 1_000),
    })
    .prefault({}),
});

/** OpenTelemetry (DESIGN.md §5). The standard OTEL_* variables map onto these (config/load.ts). */
const telemetrySchema = z.strictObject({
  /** Turns the SDK off entirely (OTEL_SDK_DISABLED). */
  disabled: z.boolean().default(false),
  /** OTEL_SERVICE_NAME. */
  serviceName: z.string().min(1).default('commitlog'),
  /** OTEL_RESOURCE_ATTRIBUTES, e.g. deployment.environment=prod. */
  resourceAttributes: z.record(z.string(), z.string()).default({}),
  /** Prometheus scrape endpoint (GET /metrics); '' turns it off. */
  metricsListen: z.union([hostPort, z.literal('')]).default('0.0.0.0:9464'),
  /** OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/HTTP base URL (http://collector:4318); '' exports nothing over OTLP. */
  otlpEndpoint: z.union([z.url(), z.literal('')]).default(''),
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: full URL, overrides the base for traces. */
  otlpTracesEndpoint: z.union([z.url(), z.literal('')]).default(''),
  /** OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: full URL, overrides the base for metrics. */
  otlpMetricsEndpoint: z.union([z.url(), z.literal('')]).default(''),
  /** OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is built in. */
  otlpProtocol: z.literal('http/protobuf', 'only http/protobuf is supported').default('http/protobuf'),
  /** OTEL_EXPORTER_OTLP_HEADERS. */
  otlpHeaders: z.record(z.string(), z.string()).default({}),
  /** OTEL_TRACES_SAMPLER. */
  sampler: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the traceidratio samplers. */
  samplerArg: z.number().min(0).max(1).default(1),
  /** OTEL_METRIC_EXPORT_INTERVAL. */
  metricExportIntervalMs: count(100, 3_600_000, 60_000),
});

/** Topic or bucket patterns: exact names, or "prefix*" ("*" alone: any). */
const patterns = z.array(z.string().min(1)).default(['*']);

/** Transport security, authentication and authorization (docs/security.md). */
const securitySchema = z
  .strictObject({
    /** TLS on the gRPC listener; absent: plaintext. Files are re-read every reloadMs. */
    tls: z
      .strictObject({
        certFile: z.string().min(1),
        keyFile: z.string().min(1),
        /** Set: mTLS, a client must show a certificate this CA signed. */
        clientCaFile: z.string().min(1).optional(),
        reloadMs: count(100, 86_400_000, 60_000),
      })
      .optional(),
    /** A YAML map of "principal: token"; re-read when it changes. */
    tokens: z.strictObject({ file: z.string().min(1), reloadMs: count(100, 86_400_000, 5_000) }).optional(),
    /** Calls without valid credentials fail UNAUTHENTICATED. Default: true when tokens or tls.clientCaFile are set. */
    requireAuth: z.boolean().optional(),
    /** Who may write where; empty: every caller may write everywhere. */
    principals: z.record(z.string().min(1), z.strictObject({ topics: patterns, buckets: patterns })).default({}),
  })
  .transform((s) => ({
    ...s,
    requireAuth: s.requireAuth ?? (s.tokens !== undefined || s.tls?.clientCaFile !== undefined),
  }));

export const configSchema = z.strictObject({
  /** gRPC listen address. */
  listen: hostPort.default('0.0.0.0:50051'),
  /**
   * Producer worker processes, each with its own librdkafka producer; 0
   * produces in the main thread; "auto" is one per core, capped by the
   * cgroup's CPU quota (cpu-quota.ts, docs/workers.md).
   */
  workers: z
    .union([z.int().min(0).max(64), z.literal('auto')])
    .default(0)
    .transform((n) => (n === 'auto' ? autoWorkers() : n)),
  /** How the worker pool restarts a worker that crashed or hung, and when it gives up. */
  supervisor: z
    .strictObject({
      /** Restarts allowed within restartWindowMs; one more and the pool gives up (NOT_SERVING). */
      maxRestarts: count(0, 1_000, 3),
      restartWindowMs: count(100, 3_600_000, 5_000),
      /** A worker that sends no heartbeat for this long is hung: it is killed and restarted. */
      hangTimeoutMs: count(200, 600_000, 5_000),
    })
    .prefault({}),
  /** How long SIGTERM waits for in-flight events to settle. */
  drainTimeoutMs: count(0, 3_600_000, 30_000),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
  kafka: kafkaSchema.transform(withSaslProperties).prefault({}),
  routing: routingSchema.prefault({}),
  limits: limitsSchema.prefault({}),
  spill: spillSchema.prefault({}),
  telemetry: telemetrySchema.prefault({}),
  dedup: dedupSchema.prefault({}),
  admission: admissionSchema.prefault({}),
  grpc: grpcSchema.prefault({}),
  security: securitySchema.prefault({}),
});

/** What a config file (or a test) may write: every field optional. */
export type ConfigInput = z.input<typeof configSchema>;
/** The validated configuration, every default applied. */
export type Config = z.output<typeof configSchema>;
export type KafkaConfig = Config['kafka'];
export type SupervisorConfig = Config['supervisor'];
export type RoutingConfig = Config['routing'];
export type LimitsConfig = Config['limits'];
export type TelemetryConfig = Config['telemetry'];
export type SpillConfig = Config['spill'];
export type DedupConfig = Config['dedup'];
export type AdmissionConfig = Config['admission'];
export type GrpcConfig = Config['grpc'];
export type SecurityConfig = Config['security'];
export type PrincipalsConfig = SecurityConfig['principals'];
