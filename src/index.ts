export { loadConfig, type LoadOptions } from './config/load';
export type { Config, ConfigInput } from './config/schema';
export { CommitlogError, type ErrorCode } from './errors';
export { Gateway } from './gateway';
export type { KafkaRecord, Outcome, Sink } from './sink';
export * from './client';
