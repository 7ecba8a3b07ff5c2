import { Command, Option } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRepoRoot } from '../dev/kafka-jars';

/** What `commitlog bench` hands to the benchmark runner (bench/main.ts), as JSON. */
export interface BenchOptions {
  /** An existing cluster; omitted: a LocalKafka broker is started for the run. */
  brokers?: string;
  /** The CI subset: direct producer, bidi×100, unary×1, echo unary×1; short phases. */
  quick: boolean;
  /** Exit 1 on a gross regression: bidi×100 ÷ direct or unary×1 ÷ echo below 30% of its recorded ratio (bench/guard.ts). */
  guard: boolean;
  /** Print the results as JSON on stdout instead of the table. */
  json: boolean;
  /** Write a bar chart (events/s and p99 per scenario) to this SVG file. */
  svg?: string;
  /** Measured seconds per scenario; default 10 (quick: 5). */
  duration?: number;
  /** Warm-up seconds per scenario, not measured; default 10 (quick: 3). */
  warmup?: number;
  /** Scenario ids to run (see --list); default all (quick: the quick subset). */
  only?: string[];
  /** Open loop: every scenario at this many events/s. */
  rate?: number;
  /** Each scenario closed-loop, then open-loop at 50% of the events/s it reached. */
  openLoop: boolean;
  /** Run the gateway under `node --cpu-prof` and print its top self-time functions. */
  profile: boolean;
  /** Where the .cpuprofile files go (--profile). */
  profileDir?: string;
  /** Unary calls in flight per generator process. */
  concurrency: number;
  /** CommitStream calls per generator process. */
  streams: number;
  /** Events in flight per generator process (bidi and direct producer, closed loop). */
  inflight: number;
  /** Load generator processes. */
  generators: number;
  /** Bytes of each event's value. */
  valueBytes: number;
  /** Print the scenario ids and exit. */
  list: boolean;
  /** Run nothing: report (table, --json, --svg, --guard) the results a --json run saved to this file. */
  from?: string;
}

/** `commitlog bench`: throughput and latency of the gateway against its ceilings (docs/benchmarks.md). */
export function benchCommand(): Command {
  return new Command('bench')
    .description('benchmark the gateway against a direct producer and a gRPC echo server (docs/benchmarks.md)')
    .addOption(
      new Option('--brokers <list>', 'use this Kafka cluster instead of starting a local broker').env(
        'COMMITLOG_KAFKA_BROKERS',
      ),
    )
    .addOption(new Option('--quick', 'CI subset (direct, bidi×100, unary×1, echo unary×1), 3 s + 5 s each'))
    .addOption(
      new Option('--guard', 'exit 1 if bidi×100 ÷ direct or unary×1 ÷ echo falls below 30% of its recorded ratio'),
    )
    .addOption(new Option('--json', 'print results as JSON instead of the table'))
    .addOption(new Option('--svg <file>', 'write a bar chart of events/s and p99 per scenario'))
    .addOption(new Option('--duration <s>', 'measured seconds per scenario (default 10, quick 5)').argParser(positive))
    .addOption(new Option('--warmup <s>', 'warm-up seconds per scenario (default 10, quick 3)').argParser(nonNegative))
    .addOption(new Option('--only <ids>', 'comma-separated scenario ids (see --list)').argParser(list))
    .addOption(new Option('--rate <events/s>', 'open loop: every scenario at this arrival rate').argParser(positive))
    .addOption(new Option('--open-loop', 'after each closed-loop run, an open-loop run at 50% of its events/s'))
    .addOption(new Option('--profile', 'run the gateway under node --cpu-prof; print its top self-time functions'))
    .addOption(new Option('--profile-dir <dir>', 'keep the .cpuprofile files here (default: a temp dir)'))
    .addOption(
      new Option('--concurrency <n>', 'unary calls in flight per generator').argParser(positiveInt).default(64),
    )
    .addOption(new Option('--streams <n>', 'CommitStream calls per generator').argParser(positiveInt).default(4))
    .addOption(
      new Option('--inflight <n>', 'events in flight per generator (bidi, direct)')
        .argParser(positiveInt)
        .default(5000),
    )
    .addOption(new Option('--generators <n>', 'load generator processes').argParser(positiveInt).default(1))
    .addOption(new Option('--value-bytes <n>', 'bytes per event value').argParser(nonNegativeInt).default(200))
    .addOption(new Option('--list', 'print the scenario ids and exit'))
    .addOption(new Option('--from <file>', 'run nothing: report the results a --json run saved to this file'))
    .action(async (raw: Partial<BenchOptions>) => {
      process.exitCode = await launchBench(normalise(raw));
    });
}

function normalise(raw: Partial<BenchOptions>): BenchOptions {
  return {
    ...raw,
    quick: raw.quick === true,
    guard: raw.guard === true,
    json: raw.json === true,
    openLoop: raw.openLoop === true,
    profile: raw.profile === true || raw.profileDir !== undefined,
    list: raw.list === true,
    concurrency: raw.concurrency ?? 64,
    streams: raw.streams ?? 4,
    inflight: raw.inflight ?? 5000,
    generators: raw.generators ?? 1,
    valueBytes: raw.valueBytes ?? 200,
  };
}

/**
 * The benchmark lives in bench/ as TypeScript and runs through tsx (a
 * devDependency), in a child process so its own children (gateway, load
 * generators) are measured apart from this one. Resolves with its exit code.
 */
async function launchBench(options: BenchOptions): Promise<number> {
  const root = findRepoRoot(__dirname);
  const entry = path.join(root, 'bench', 'main.ts');
  if (!existsSync(entry))
    throw new Error(`commitlog bench: ${entry} is missing; run it from a clone of the repository`);
  let tsx: string;
  try {
    tsx = require.resolve('tsx/cjs', { paths: [root] });
  } catch {
    throw new Error(`commitlog bench: needs the devDependency tsx; run \`npm ci\` in ${root}`);
  }
  const child = spawn(process.execPath, ['--require', tsx, entry, JSON.stringify(options)], {
    cwd: root,
    stdio: 'inherit',
    env: benchEnvironment(process.env),
  });
  // A terminal's Ctrl-C reaches the runner too (same process group); it stops its children and exits.
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : os.constants.signals[signal])));
  });
}

/**
 * The gateway under test must run the configuration the benchmark generates:
 * COMMITLOG_* and OTEL_* variables of the caller would override it (the broker
 * list was already taken from COMMITLOG_KAFKA_BROKERS by --brokers).
 */
function benchEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !/^(COMMITLOG_|OTEL_)/.test(name)));
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function positive(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`expected a positive number, got "${text}"`);
  return value;
}

function nonNegative(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`expected a number ≥ 0, got "${text}"`);
  return value;
}

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`expected a positive integer, got "${text}"`);
  return value;
}

function nonNegativeInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`expected an integer ≥ 0, got "${text}"`);
  return value;
}
