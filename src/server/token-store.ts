import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CommitlogError } from '../errors';
import type { Logger } from '../telemetry/logger';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Bearer tokens from a YAML map of "principal: token" (security.tokens.file).
 * Only SHA-256 digests are kept, so a heap dump or a log line never holds a
 * token. The file is polled; an unreadable or malformed new version is logged
 * (without its content) and the tokens read before stay in force.
 */
export class TokenStore {
  readonly #file: string;
  readonly #reloadMs: number;
  readonly #log: Logger;
  /** sha256(token) → principal. */
  #principals = new Map<string, string>();
  readonly #onChange = (now: Stats, before: Stats): void => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
    try {
      this.#principals = readTokens(this.#file);
      this.#log.info({ file: this.#file, principals: this.#principals.size }, 'tokens reloaded');
    } catch (err) {
      this.#log.warn({ file: this.#file, err: (err as Error).message }, 'tokens not reloaded, keeping the old ones');
    }
  };

  constructor(file: string, reloadMs: number, log: Logger) {
    this.#file = file;
    this.#reloadMs = reloadMs;
    this.#log = log;
  }

  /** Reads the file; throws CONFIG_INVALID when it cannot be read. */
  start(): void {
    this.#principals = readTokens(this.#file);
    watchFile(this.#file, { interval: this.#reloadMs, persistent: false }, this.#onChange);
  }

  /** The principal `token` belongs to, if any. */
  principalOf(token: string): string | undefined {
    return this.#principals.get(sha256(token));
  }

  close(): void {
    unwatchFile(this.#file, this.#onChange);
  }
}

function readTokens(file: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    // The parser's message may quote the file, tokens included: name the file only.
    throw new CommitlogError(
      'CONFIG_INVALID',
      `cannot read tokens file ${file} (${(err as NodeJS.ErrnoException).code ?? 'not YAML'})`,
    );
  }
  const out = new Map<string, string>();
  if (parsed === null || parsed === undefined) return out;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CommitlogError('CONFIG_INVALID', `tokens file ${file} must hold a YAML map of principal: token`);
  }
  for (const [principal, token] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof token !== 'string' || token === '') {
      throw new CommitlogError(
        'CONFIG_INVALID',
        `tokens file ${file}: the token of "${principal}" must be a non-empty string`,
      );
    }
    out.set(sha256(token), principal);
  }
  return out;
}
