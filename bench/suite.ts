import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BenchOptions } from '../src/cli/bench';
import { LocalKafka } from '../src/dev/local-kafka';
import { sleep } from './child';
import { OtlpSink } from './measure/otlp-sink';
import { CpuWindow } from './measure/proc-stats';
import { addRatios, type ScenarioResult } from './result';
import { runScenario, type RunContext } from './scenario-run';
import { selectScenarios, type Scenario } from './scenarios';

/** Before the first scenario, the box is watched this long; busier than BUSY_BEFORE_START % and the run says so. */
const QUIET_CHECK_MS = 1_000;
const BUSY_BEFORE_START = 20;

/** What a run found, and on what. */
export interface SuiteReport {
  meta: {
    startedAt: string;
    elapsedMs: number;
    node: string;
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    kafka: string;
    warmupMs: number;
    durationMs: number;
    generators: number;
    streams: number;
    concurrency: number;
    inflight: number;
    valueBytes: number;
    quick: boolean;
    rate?: number;
    openLoop: boolean;
  };
  rows: ScenarioResult[];
}

/** Runs the selected scenarios one after the other on one broker; nothing else runs meanwhile. */
export async function runSuite(options: BenchOptions, log: (line: string) => void): Promise<SuiteReport> {
  const startedAt = new Date();
  const scenarios = selectScenarios(options.only, options.quick);
  const warmupMs = (options.warmup ?? (options.quick ? 3 : 10)) * 1000;
  const durationMs = (options.duration ?? (options.quick ? 5 : 10)) * 1000;
  const needsKafka = scenarios.some((s) => s.target !== 'echo' && s.variant !== 'spill');
  const kafka = needsKafka && options.brokers === undefined ? new LocalKafka({ onLog: log }) : undefined;
  const sink = new OtlpSink();
  const rows: ScenarioResult[] = [];
  try {
    const busy = await boxBusyOver(QUIET_CHECK_MS);
    if (busy >= BUSY_BEFORE_START) {
      log(`bench: WARNING: the box is ${busy}% busy before the run; other processes will disturb the numbers`);
    }
    if (kafka) {
      log('bench: starting a local Kafka broker');
      await kafka.start();
    }
    await sink.start();

    const ctx: RunContext = {
      brokers: options.brokers ?? kafka?.brokers ?? '127.0.0.1:9092',
      brokerPid: kafka?.pid,
      sink,
      runTag: randomBytes(3).toString('hex'),
      profileDir: options.profile ? (options.profileDir ?? (await tempDir('commitlog-bench-prof-'))) : undefined,
      warmupMs,
      durationMs,
      rate: options.rate,
      openLoopShare: options.openLoop ? 0.5 : undefined,
      generators: options.generators,
      streams: options.streams,
      concurrency: options.concurrency,
      inflight: options.inflight,
      valueBytes: options.valueBytes,
      cores: os.cpus().length,
      log,
    };
    for (const [i, scenario] of scenarios.entries()) {
      log(`bench: [${i + 1}/${scenarios.length}] ${describe(scenario, ctx)}`);
      const result = await runScenario(scenario, ctx);
      for (const row of result) log(`bench:   ${summaryLine(row)}`);
      rows.push(...result);
    }
  } finally {
    await sink.close();
    await kafka?.close();
  }
  addRatios(rows);
  const cpus = os.cpus();
  return {
    meta: {
      startedAt: startedAt.toISOString(),
      elapsedMs: Date.now() - startedAt.getTime(),
      node: process.version,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      kafka: kafka
        ? `local Kafka ${kafka.version ?? '?'} (KRaft, 1 node, JVM -Xmx512m)`
        : needsKafka
          ? `Kafka at ${options.brokers}`
          : 'no Kafka (not needed)',
      warmupMs,
      durationMs,
      generators: options.generators,
      streams: options.streams,
      concurrency: options.concurrency,
      inflight: options.inflight,
      valueBytes: options.valueBytes,
      quick: options.quick,
      rate: options.rate,
      openLoop: options.openLoop,
    },
    rows,
  };
}

function describe(scenario: Scenario, ctx: RunContext): string {
  const load =
    scenario.rpc === 'unary'
      ? `${ctx.concurrency} calls in flight per generator`
      : `${ctx.inflight} events in flight per generator${scenario.rpc === 'stream' ? ` over ${ctx.streams} streams` : ''}`;
  const mode =
    ctx.rate !== undefined
      ? `open loop at ${ctx.rate} events/s`
      : `closed loop, ${load}${ctx.openLoopShare === undefined ? '' : `, then open loop at ${ctx.openLoopShare * 100}% of that`}`;
  return `${scenario.label}: ${mode}; ${ctx.warmupMs / 1000} s warm-up, ${ctx.durationMs / 1000} s measured`;
}

function summaryLine(row: ScenarioResult): string {
  if (row.error !== undefined) return `${row.label}: FAILED ${row.error}`;
  const mode = row.mode === 'open' ? ` (open loop @${row.offeredRate}/s)` : '';
  const p99 = row.latency ? `${row.latency.p99} ms` : 'n/a';
  return `${row.label}${mode}: ${row.eventsPerSec} events/s, p99 ${p99}, limited by ${row.limitedBy.join(', ')}`;
}

async function boxBusyOver(ms: number): Promise<number> {
  const window = new CpuWindow([]);
  await sleep(ms);
  return window.finish().boxBusy;
}

function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}
