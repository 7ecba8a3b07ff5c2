import type { LatencySummary } from './measure/latency';
import type { SinkCounts } from './measure/otlp-sink';
import type { OutcomeName } from './load/protocol';
import type { ProfileSummary } from './measure/cpu-profile';
import { echoOf, type Scenario } from './scenarios';

/** % of one core at which a single-threaded event loop counts as saturated. */
export const SATURATED = 90;

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
  /** Load generator processes: the busiest one's CPU and the sum, % of one core. */
  generator: { processes: number; maxCpu: number; totalCpu: number };
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
    if ((row.server?.mainCpu ?? 0) >= SATURATED) limits.push('producer main thread');
  } else {
    if (row.generator.maxCpu >= SATURATED) limits.push('generator CPU');
    if ((row.server?.mainCpu ?? 0) >= SATURATED) limits.push(`${row.server?.name ?? 'server'} main thread`);
  }
  if ((row.brokerCpu ?? 0) >= SATURATED) limits.push('broker CPU');
  if (row.boxBusy >= SATURATED) limits.push(`box CPU (${cores} cores)`);
  if (limits.length === 0) limits.push(row.variant === 'spill' ? 'fsync latency × window' : 'in-flight window');
  return limits;
}

/** Fills vsDirect and vsEcho: closed-loop rows divided by the closed-loop row of their baseline. */
export function addRatios(rows: ScenarioResult[]): void {
  const closed = new Map(rows.filter((r) => r.mode === 'closed' && !r.error).map((r) => [r.id, r]));
  const direct = closed.get('direct');
  for (const row of rows) {
    if (row.mode !== 'closed' || row.error !== undefined || row.id === 'direct') continue;
    if (direct && direct.eventsPerSec > 0) row.vsDirect = round2(row.eventsPerSec / direct.eventsPerSec);
    const echoId = echoOf(row);
    const echo = echoId === undefined ? undefined : closed.get(echoId);
    if (echo && echo.eventsPerSec > 0) row.vsEcho = round2(row.eventsPerSec / echo.eventsPerSec);
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
