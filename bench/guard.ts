import { formatInt } from './report/table';
import type { ScenarioResult } from './result';

/**
 * One ratio the guard watches: a gateway scenario against its ceiling measured
 * in the same run, and the ratio docs/benchmarks.md records for it.
 */
export interface GuardCheck {
  scenario: string;
  baseline: string;
  /** The ratio of a typical run on the development box (docs/benchmarks.md). */
  recorded: number;
}

/**
 * What `--guard` checks. It fails only on a gross regression: a ratio below
 * GUARD_SHARE of the recorded one. Runs of unchanged code on this shared
 * 2-core box read from 0.29 to 0.77 for bidi ×100, so a tighter floor would
 * fail on noise, not on code.
 */
export const GUARD_CHECKS: readonly GuardCheck[] = [
  { scenario: 'bidi-100', baseline: 'direct', recorded: 0.75 },
  { scenario: 'unary-1', baseline: 'echo-unary-1', recorded: 0.65 },
];
export const GUARD_SHARE = 0.3;

/** The guard's verdict on a run: ok, and one line per check. */
export interface GuardVerdict {
  ok: boolean;
  lines: string[];
}

export function guard(rows: readonly ScenarioResult[], checks = GUARD_CHECKS): GuardVerdict {
  const find = (id: string): ScenarioResult | undefined =>
    rows.find((r) => r.id === id && r.mode === 'closed' && r.error === undefined);
  const lines: string[] = [];
  let ok = true;
  for (const check of checks) {
    const row = find(check.scenario);
    const base = find(check.baseline);
    if (row === undefined || base === undefined || base.eventsPerSec === 0) {
      ok = false;
      lines.push(`guard: FAIL, ${check.scenario} or ${check.baseline} did not produce a result`);
      continue;
    }
    const ratio = row.eventsPerSec / base.eventsPerSec;
    const floor = GUARD_SHARE * check.recorded;
    const passed = ratio >= floor;
    ok &&= passed;
    lines.push(
      `guard: ${passed ? 'ok' : 'FAIL (gross regression)'}: ${row.label} ${formatInt(row.eventsPerSec)} events/s = ` +
        `${ratio.toFixed(2)} of ${base.label} (${formatInt(base.eventsPerSec)}); floor ${floor.toFixed(2)} ` +
        `= ${GUARD_SHARE * 100}% of the recorded ${check.recorded.toFixed(2)}`,
    );
  }
  return { ok, lines };
}
