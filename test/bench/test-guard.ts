import { expect } from 'chai';
import { guard, GUARD_SHARE, type GuardCheck } from '../../bench/guard';
import type { ScenarioResult } from '../../bench/result';

function row(id: string, eventsPerSec: number, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    id,
    label: id,
    target: 'gateway',
    rpc: 'stream',
    batch: 100,
    mode: 'closed',
    eventsPerSec,
    measuredMs: 5000,
    acks: { delivered: 0, spilled: 0, duplicate: 0, rejected: 0, failed: 0 },
    sent: 0,
    generator: { processes: 1, maxCpu: 0, totalCpu: 0, maxElu: 0 },
    boxBusy: 0,
    limitedBy: [],
    notes: [],
    ...extra,
  } as ScenarioResult;
}

describe('bench guard', () => {
  const checks: GuardCheck[] = [{ scenario: 'bidi-100', baseline: 'direct', recorded: 0.5 }];

  it('passes at and above 30% of the recorded ratio, fails below it', () => {
    // floor = 0.3 × 0.5 = 0.15 of the direct producer's 100,000 events/s
    expect(GUARD_SHARE).to.equal(0.3);
    const at = guard([row('direct', 100_000), row('bidi-100', 15_000)], checks);
    expect(at.ok).to.equal(true);
    expect(at.lines[0]).to.match(/^guard: ok: bidi-100 15,000 events\/s = 0\.15 of direct .*floor 0\.15/);
    const below = guard([row('direct', 100_000), row('bidi-100', 14_900)], checks);
    expect(below.ok).to.equal(false);
    expect(below.lines[0]).to.match(/^guard: FAIL \(gross regression\): bidi-100 14,900 events\/s = 0\.15/);
  });

  it('judges closed-loop rows only, and fails when one of the pair is missing or failed', () => {
    const open = guard([row('direct', 100_000), row('bidi-100', 90_000, { mode: 'open' })], checks);
    expect(open.ok).to.equal(false);
    expect(open.lines).to.deep.equal(['guard: FAIL, bidi-100 or direct did not produce a result']);
    const failed = guard([row('direct', 100_000, { error: 'broker died' }), row('bidi-100', 90_000)], checks);
    expect(failed.ok).to.equal(false);
  });

  it('fails the run when any check fails', () => {
    const two: GuardCheck[] = [...checks, { scenario: 'unary-1', baseline: 'echo-unary-1', recorded: 0.6 }];
    const verdict = guard(
      [row('direct', 100_000), row('bidi-100', 50_000), row('echo-unary-1', 10_000), row('unary-1', 1_000)],
      two,
    );
    expect(verdict.ok).to.equal(false);
    expect(verdict.lines.map((l) => l.split(':')[1].trim())).to.deep.equal(['ok', 'FAIL (gross regression)']);
  });
});
