import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CommitlogError } from '../errors';
import { configSchema, type Config, type ConfigInput } from './schema';

/**
 * The environment names fixed by DESIGN.md §6, the standard OTEL_* variables,
 * and the setting each overrides. Values are parsed here, but left as text when
 * they do not parse, so the schema's message still names the variable.
 */
const ENVIRONMENT: Record<string, { path: string[]; type: ValueType }> = {
  COMMITLOG_LISTEN: { path: ['listen'], type: 'string' },
  COMMITLOG_KAFKA_BROKERS: { path: ['kafka', 'brokers'], type: 'string' },
  COMMITLOG_DEFAULT_TOPIC: { path: ['routing', 'defaultTopic'], type: 'string' },
  COMMITLOG_SPILL_DIR: { path: ['spill', 'dir'], type: 'string' },
  COMMITLOG_WORKERS: { path: ['workers'], type: 'number' },
  COMMITLOG_LOG_LEVEL: { path: ['log', 'level'], type: 'string' },
  COMMITLOG_METRICS_LISTEN: { path: ['telemetry', 'metricsListen'], type: 'string' },
  OTEL_SDK_DISABLED: { path: ['telemetry', 'disabled'], type: 'boolean' },
  OTEL_SERVICE_NAME: { path: ['telemetry', 'serviceName'], type: 'string' },
  OTEL_RESOURCE_ATTRIBUTES: { path: ['telemetry', 'resourceAttributes'], type: 'pairs' },
  OTEL_EXPORTER_OTLP_ENDPOINT: { path: ['telemetry', 'otlpEndpoint'], type: 'string' },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { path: ['telemetry', 'otlpTracesEndpoint'], type: 'string' },
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: { path: ['telemetry', 'otlpMetricsEndpoint'], type: 'string' },
  OTEL_EXPORTER_OTLP_PROTOCOL: { path: ['telemetry', 'otlpProtocol'], type: 'string' },
  OTEL_EXPORTER_OTLP_HEADERS: { path: ['telemetry', 'otlpHeaders'], type: 'pairs' },
  OTEL_TRACES_SAMPLER: { path: ['telemetry', 'sampler'], type: 'string' },
  OTEL_TRACES_SAMPLER_ARG: { path: ['telemetry', 'samplerArg'], type: 'number' },
  OTEL_METRIC_EXPORT_INTERVAL: { path: ['telemetry', 'metricExportIntervalMs'], type: 'number' },
};

type ValueType = 'string' | 'number' | 'boolean' | 'pairs';

function parseValue(text: string, type: ValueType): unknown {
  const trimmed = text.trim();
  switch (type) {
    case 'string':
      return text;
    case 'number':
      return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : text;
    case 'boolean':
      return trimmed.toLowerCase() === 'true' ? true : trimmed.toLowerCase() === 'false' ? false : text;
    case 'pairs': {
      // The OTel list form: key1=value1,key2=value2 (values URL-encoded).
      const pairs: Record<string, string> = {};
      for (const item of trimmed.split(',')) {
        const at = item.indexOf('=');
        if (at <= 0) return text;
        pairs[item.slice(0, at).trim()] = decodeURIComponent(item.slice(at + 1).trim());
      }
      return pairs;
    }
  }
}

export interface LoadOptions {
  /** A YAML file; its settings sit under the environment's. */
  file?: string;
  /** Settings given in code (tests, the dev command); under the file's. */
  base?: ConfigInput;
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads the configuration once: defaults, then `base`, then the file, then the
 * environment. Throws CONFIG_INVALID naming every bad setting and where it came
 * from; returns a deeply frozen Config.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const sources = new Map<string, string>();
  let input: Record<string, unknown> = structuredClone((options.base ?? {}) as Record<string, unknown>);
  if (options.file !== undefined) {
    input = merge(input, readFile(options.file));
  }
  for (const [name, { path, type }] of Object.entries(ENVIRONMENT)) {
    const text = options.env?.[name];
    if (text === undefined || text === '') continue;
    input = merge(input, nest(path, parseValue(text, type)));
    sources.set(path.join('.'), name);
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const setting = issue.path.join('.') || '(root)';
      const from = sources.get(setting) ?? (options.file !== undefined ? options.file : 'settings');
      return `  ${setting} (from ${from}): ${issue.message}`;
    });
    throw new CommitlogError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  }
  return deepFreeze(result.data);
}

function readFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CommitlogError('CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CommitlogError('CONFIG_INVALID', `config file ${file} must hold a YAML mapping`);
  }
  return parsed as Record<string, unknown>;
}

function nest(path: string[], value: unknown): Record<string, unknown> {
  return path.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), value as never);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function merge(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under };
  for (const [key, value] of Object.entries(over)) {
    const below = out[key];
    out[key] = isPlainObject(below) && isPlainObject(value) ? merge(below, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
