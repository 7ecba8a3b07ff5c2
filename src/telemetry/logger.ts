import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stderr, so that stdout stays free for command output
 * (`commitlog send` prints acks there).
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'commitlog' } }, pino.destination({ fd: 2, sync: false }));
}
