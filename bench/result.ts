import type { LatencySummary } from './measure/latency';
import type { SinkCounts } from './measure/otlp-sink';
import type { OutcomeName } from './load/protocol';
import type { ProfileSummary } from './measure/cpu-profile';
import { echoOf, type Scenario } from './scenarios';

/**
 * When an event loop counts as saturated. The generators measure their own
 * event-loop utilization (busy share of wall time, Node's perf_hooks); other
 * processes are judged by their main thread's CPU from /proc, where a loop
 * that is never idle still shows less than 100% (waiting on epoll between
 * bursts, GC partly on helper threads), hence the lower mark.
 */
export const SATURATED_ELU = 0.9;
export const SATURATED_MAIN_CPU = 80;
/** % of a core at which the broker JVM (many threads) counts as a limit on a small box. */
const BUSY_BROKER_CPU = 90;
/** Box busy share (% of all cores) at which the box itself is the limit. */
const BUSY_BOX = 90;

/** One measured row: a scenario, closed loop or at an open-loop rate. */
export interface ScenarioResult {
  id: string;
  label: string;
  target: Scenario['target'];
  rpc: Scenario['rpc'];
  batch: number;
  variant?: Scenario['variant'];
  mode: 'closed' | 'open';
  /** Open loop: events/s offered. */
  offeredRate?: number;
  /** Durable acks (DELIVERED, or SPILLED) per second of the measured window. */
  eventsPerSec: number;
  measuredMs: number;
  acks: Record<OutcomeName, number>;
  sent: number;
  latency?: LatencySummary;
  /** The process under test (gateway, echo server, or the direct producer): % of one core, MiB. */
  server?: { name: string; cpu: number; mainCpu: number; peakRssMiB?: number };
  /** Load generator processes: the busiest one's CPU and the sum, % of one core; the highest event-loop utilization. */
  generator: { processes: number; maxCpu: number; totalCpu: number; maxElu: number };
  brokerCpu?: number;
  /** The box's busy share, % of all its cores. */
  boxBusy: number;
  vsDirect?: number;
  vsEcho?: number;
  limitedBy: string[];
  notes: string[];
  otlpSink?: SinkCounts;
  profile?: ProfileSummary;
  error?: string;
}

/**
 * Why a row is not higher, from what was measured: a saturated event loop
 * (generator, server, broker), all cores busy, an open-loop rate that was or
 * was not sustained, else the closed loop's in-flight window over latency.
 */
export function limitsOf(row: ScenarioResult, cores: number): string[] {
  if (row.error !== undefined) return ['failed'];
  const limits: string[] = [];
  const open = row.mode === 'open';
  const skipped = row.notes.some((n) => n.startsWith('rate not sustained'));
  if (open) limits.push(skipped ? 'rate not sustained' : 'offered rate');
  if (row.target === 'direct') {
    // The producer is its own generator: one process, one event loop.
    if (row.generator.maxElu >= SATURATED_ELU) limits.push('producer event loop');
  } else {
    if (row.generator.maxElu >= SATURATED_ELU) limits.push('generator event loop');
    if ((row.server?.mainCpu ?? 0) >= SATURATED_MAIN_CPU) limits.push(`${row.server?.name ?? 'server'} main thread`);
  }
  if ((row.brokerCpu ?? 0) >= BUSY_BROKER_CPU) limits.push('broker CPU');
  if (row.boxBusy >= BUSY_BOX) limits.push(`box CPU (${cores} cores)`);
  // Nothing saturated: a closed loop then runs at (events in flight) ÷ latency.
  if (limits.length === 0) limits.push(row.rpc === 'unary' ? 'calls in flight ÷ latency' : 'in-flight ÷ latency');
  return limits;
}

/** Fills vsDirect and vsEcho: closed-loop rows divided by the closed-loop row of their baseline. */
export function addRatios(rows: ScenarioResult[]): void {
  const closed = new Map(rows.filter((r) => r.mode === 'closed' && !r.error).map((r) => [r.id, r]));
  const direct = closed.get('direct');
  for (const row of rows) {
    // Ratios are for the gateway's rows; the ceilings (direct, echo) are what they are divided by.
    if (row.mode !== 'closed' || row.error !== undefined || row.target !== 'gateway') continue;
    if (direct && direct.eventsPerSec > 0) row.vsDirect = round2(row.eventsPerSec / direct.eventsPerSec);
    const echoId = echoOf(row);
    const echo = echoId === undefined ? undefined : closed.get(echoId);
    if (echo && echo.eventsPerSec > 0) row.vsEcho = round2(row.eventsPerSec / echo.eventsPerSec);
    // Variants of bidi ×100 are also compared with bidi ×100 itself, the same load on the default set-up.
    const plain = closed.get('bidi-100');
    if (row.variant !== undefined && row.variant !== 'metrics' && plain && plain.eventsPerSec > 0) {
      const change = Math.round((row.eventsPerSec / plain.eventsPerSec - 1) * 100);
      row.notes.push(`${change >= 0 ? '+' : ''}${change}% events/s against ${plain.label} (telemetry: metrics only)`);
    }
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
