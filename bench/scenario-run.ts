import { sleep } from './child';
import { LoadProcess } from './load/load-process';
import type { LoadPlan, LoadResult, OutcomeName } from './load/protocol';
import { summariseProfile } from './measure/cpu-profile';
import { mergeHistograms, summarise } from './measure/latency';
import type { OtlpSink } from './measure/otlp-sink';
import { childPids, CpuWindow, peakRssMiB, resetPeakRss } from './measure/proc-stats';
import { limitsOf, type ScenarioResult } from './result';
import type { Scenario } from './scenarios';
import { EchoTarget } from './targets/echo-target';
import { GatewayTarget } from './targets/gateway-target';
import type { Target } from './targets/target';

/** Everything a scenario run needs from the suite. */
export interface RunContext {
  brokers: string;
  brokerPid?: number;
  sink: OtlpSink;
  /** Makes topics and event ids of this run unique. */
  runTag: string;
  profileDir?: string;
  warmupMs: number;
  durationMs: number;
  /** Open loop for every scenario (--rate). */
  rate?: number;
  /** After the closed-loop row, an open-loop row at this share of its events/s (--open-loop). */
  openLoopShare?: number;
  generators: number;
  streams: number;
  concurrency: number;
  inflight: number;
  valueBytes: number;
  cores: number;
  log: (line: string) => void;
}

/** % of a core used by processes outside the benchmark from which a row says so: its numbers are disturbed. */
const OTHER_CPU_NOTE = 15;
/** Short warm-up of the open-loop phase: the target is already warm from the closed-loop one. */
const OPEN_LOOP_WARMUP_MS = 3_000;

/** Runs one scenario: starts its target, measures one row (two with --open-loop), stops the target. */
export async function runScenario(scenario: Scenario, ctx: RunContext): Promise<ScenarioResult[]> {
  const topic = `bench-${scenario.id}-${ctx.runTag}`;
  let target: Target | undefined;
  const rows: ScenarioResult[] = [];
  try {
    target = await startTarget(scenario, ctx, topic);
    const first = await measure(scenario, ctx, target, topic, ctx.rate, ctx.warmupMs, 'a');
    rows.push(first);
    if (ctx.openLoopShare !== undefined && ctx.rate === undefined && first.eventsPerSec > 0) {
      const rate = Math.round(first.eventsPerSec * ctx.openLoopShare);
      rows.push(await measure(scenario, ctx, target, topic, rate, OPEN_LOOP_WARMUP_MS, 'b'));
    }
  } catch (err) {
    rows.push(failedRow(scenario, ctx.generators, (err as Error).message));
  } finally {
    await target?.close().catch((err: Error) => ctx.log(`${scenario.id}: ${err.message}`));
  }
  if (target instanceof GatewayTarget) {
    const file = await target.profileFile();
    if (file !== undefined) rows[0].profile = await summariseProfile(file);
  }
  return rows;
}

function startTarget(scenario: Scenario, ctx: RunContext, topic: string): Promise<Target | undefined> {
  switch (scenario.target) {
    case 'direct':
      return Promise.resolve(undefined);
    case 'echo':
      return EchoTarget.start();
    case 'gateway':
      return GatewayTarget.start(
        {
          brokers: ctx.brokers,
          topic,
          variant: scenario.variant ?? 'metrics',
          workers: scenario.workers ?? 0,
          otlpEndpoint: ctx.sink.endpoint,
          profileDir: ctx.profileDir,
        },
        (line) => ctx.log(`[gateway] ${line}`),
      );
  }
}

/** Warm-up, then the measured window: load processes count acks, /proc tells CPU and peak RSS. */
async function measure(
  scenario: Scenario,
  ctx: RunContext,
  target: Target | undefined,
  topic: string,
  rate: number | undefined,
  warmupMs: number,
  phase: string,
): Promise<ScenarioResult> {
  const plans = Array.from({ length: ctx.generators }, (_, g) =>
    planFor(scenario, ctx, target, topic, rate, `${ctx.runTag}${phase}${g}-`),
  );
  const started = await Promise.allSettled(plans.map((plan, g) => LoadProcess.start(plan, `gen${g}`)));
  const loads = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    await sleep(warmupMs);
    // A gateway with producer workers is the gateway process and its children.
    const serverPids = target ? [target.pid, ...childPids(target.pid)] : loads.map((l) => l.pid);
    for (const pid of serverPids) resetPeakRss(pid);
    const loadPids = loads.map((l) => l.pid);
    const brokerPids = ctx.brokerPid === undefined ? [] : [ctx.brokerPid];
    const window = new CpuWindow([...new Set([...serverPids, ...loadPids, ...brokerPids, process.pid])]);
    ctx.sink.take();
    for (const load of loads) load.measure();
    await sleep(ctx.durationMs);
    const results = await Promise.all(loads.map((l) => l.stop()));
    const cpu = window.finish();
    const peaks = serverPids.map((pid) => peakRssMiB(pid) ?? 0);
    const row = resultRow(scenario, rate, results, ctx.generators);
    const serverCpu = serverPids.map((pid) => cpu.processes.get(pid) ?? { cpu: 0, mainCpu: 0 });
    row.server = {
      name: target?.name ?? 'producer',
      cpu: sum(serverCpu.map((c) => c.cpu)),
      mainCpu: Math.max(...serverCpu.map((c) => c.mainCpu)),
      // Gateway and workers: the sum of their peaks (an upper bound); direct: the largest producer.
      peakRssMiB: target ? sum(peaks) : Math.max(...peaks),
    };
    const genCpu = loadPids.map((pid) => cpu.processes.get(pid)?.cpu ?? 0);
    row.generator = {
      processes: loads.length,
      maxCpu: Math.max(...genCpu),
      totalCpu: round1(sum(genCpu)),
      maxElu: Math.max(...results.map((r) => r.eventLoopUtilization)),
    };
    row.brokerCpu = ctx.brokerPid === undefined ? undefined : cpu.processes.get(ctx.brokerPid)?.cpu;
    row.boxBusy = cpu.boxBusy;
    // What the box was busy with besides this benchmark (the runner itself included in "ours").
    const ours = sum([...cpu.processes.values()].map((c) => c.cpu));
    const other = Math.round(cpu.boxBusy * ctx.cores - ours);
    if (other >= OTHER_CPU_NOTE) row.notes.push(`other processes on the box used ${other}% of a core meanwhile`);
    if (scenario.variant === 'otlp') {
      row.otlpSink = ctx.sink.take();
      row.notes.push(`OTLP sink got ${row.otlpSink.requests} requests, ${kib(row.otlpSink.bytes)} KiB`);
    }
    row.limitedBy = limitsOf(row, ctx.cores);
    return row;
  } finally {
    await Promise.all(loads.map((l) => l.close()));
  }
}

function planFor(
  scenario: Scenario,
  ctx: RunContext,
  target: Target | undefined,
  topic: string,
  rate: number | undefined,
  idPrefix: string,
): LoadPlan {
  return {
    kind: scenario.rpc,
    address: target?.address ?? '',
    brokers: ctx.brokers,
    topic,
    batch: scenario.batch,
    streams: ctx.streams,
    concurrency: ctx.concurrency,
    inflight: ctx.inflight,
    rate: rate === undefined ? undefined : rate / ctx.generators,
    valueBytes: ctx.valueBytes,
    idPrefix,
  };
}

/** Adds up what the load processes measured. */
function resultRow(
  scenario: Scenario,
  rate: number | undefined,
  results: LoadResult[],
  generators: number,
): ScenarioResult {
  const acks = { ...results[0].acks };
  for (const r of results.slice(1)) {
    for (const name of Object.keys(acks) as OutcomeName[]) acks[name] += r.acks[name];
  }
  const measuredMs = sum(results.map((r) => r.measuredMs)) / results.length;
  const durable = acks.delivered + acks.spilled;
  const histogram = mergeHistograms(results.map((r) => r.histogram));
  const row: ScenarioResult = {
    ...baseRow(scenario, generators),
    mode: rate === undefined ? 'closed' : 'open',
    offeredRate: rate,
    eventsPerSec: Math.round(durable / (measuredMs / 1000)),
    measuredMs: Math.round(measuredMs),
    acks,
    sent: sum(results.map((r) => r.sent)),
    latency: summarise(histogram),
  };
  histogram.destroy();
  const skipped = sum(results.map((r) => r.skipped));
  const callErrors = sum(results.map((r) => r.callErrors));
  const unmatched = sum(results.map((r) => r.unmatched));
  const lag = Math.max(...results.map((r) => r.maxLagMs));
  if (skipped > 0 || (rate !== undefined && lag > 100)) {
    row.notes.push(`rate not sustained: ${skipped} events skipped, sender up to ${lag} ms behind schedule`);
  }
  for (const name of ['rejected', 'duplicate', 'dead_lettered', 'unspecified'] as const) {
    if (acks[name] > 0) row.notes.push(`${acks[name]} ${name.toUpperCase()}`);
  }
  if (scenario.variant !== 'spill' && acks.spilled > 0) row.notes.push(`${acks.spilled} SPILLED (Kafka fell behind)`);
  if (scenario.variant === 'spill' && acks.delivered > 0) row.notes.push(`${acks.delivered} DELIVERED (expected none)`);
  if (callErrors > 0)
    row.notes.push(`${callErrors} failed calls, first: ${results.find((r) => r.firstError)?.firstError}`);
  if (unmatched > 0) row.notes.push(`${unmatched} acks with an id not sent`);
  return row;
}

function baseRow(scenario: Scenario, generators: number): ScenarioResult {
  return {
    id: scenario.id,
    label: scenario.label,
    target: scenario.target,
    rpc: scenario.rpc,
    batch: scenario.batch,
    variant: scenario.variant,
    mode: 'closed',
    eventsPerSec: 0,
    measuredMs: 0,
    acks: { unspecified: 0, delivered: 0, spilled: 0, duplicate: 0, dead_lettered: 0, rejected: 0 },
    sent: 0,
    generator: { processes: generators, maxCpu: 0, totalCpu: 0, maxElu: 0 },
    boxBusy: 0,
    limitedBy: [],
    notes: [],
  };
}

function failedRow(scenario: Scenario, generators: number, error: string): ScenarioResult {
  return { ...baseRow(scenario, generators), error, limitedBy: ['failed'], notes: [`failed: ${error}`] };
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
const round1 = (value: number): number => Math.round(value * 10) / 10;
const kib = (bytes: number): number => Math.round(bytes / 1024);
