import type { PrincipalsConfig } from '../config/schema';

/** Exact names, and prefixes from "prefix*" patterns ("*": every name). */
interface Matcher {
  readonly exact: ReadonlySet<string>;
  readonly prefixes: readonly string[];
}

function matcher(patterns: readonly string[]): Matcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return { exact, prefixes };
}

function matches(m: Matcher, name: string): boolean {
  return m.exact.has(name) || m.prefixes.some((prefix) => name.startsWith(prefix));
}

/**
 * Who may write which topics and buckets (security.principals, docs/security.md).
 * With no principals configured every caller may write everywhere; otherwise a
 * caller without a principal, or with one not listed, may write nothing.
 */
export class AccessPolicy {
  readonly #rules: ReadonlyMap<string, { readonly topics: Matcher; readonly buckets: Matcher }>;

  constructor(principals: PrincipalsConfig) {
    this.#rules = new Map(
      Object.entries(principals).map(([name, rule]) => [
        name,
        { topics: matcher(rule.topics), buckets: matcher(rule.buckets) },
      ]),
    );
  }

  /** Undefined when `principal` may write to `topic` with `bucket`; else why not. */
  check(principal: string | undefined, topic: string, bucket: string): string | undefined {
    if (this.#rules.size === 0) return undefined;
    if (principal === undefined) return 'caller: unauthenticated callers may not write';
    const rule = this.#rules.get(principal);
    if (rule === undefined) return `caller: principal "${principal}" may not write`;
    if (!matches(rule.topics, topic)) return `topic: principal "${principal}" may not write topic "${topic}"`;
    if (!matches(rule.buckets, bucket)) return `bucket: principal "${principal}" may not write bucket "${bucket}"`;
    return undefined;
  }
}
