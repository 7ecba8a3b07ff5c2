/**
 * The benchmark runner, started by `commitlog bench` (src/cli/bench.ts) as
 * `node --require tsx/cjs bench/main.ts '<options as JSON>'`. Progress goes to
 * stderr; the table (or --json) to stdout. Exit status: 0, or 1 when the guard
 * fails or the run could not be made.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchOptions } from '../src/cli/bench';
import { renderSvg } from './report/svg';
import { guard } from './guard';
import { renderReport } from './report/table';
import { SCENARIOS } from './scenarios';
import { runSuite, type SuiteReport } from './suite';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  const options = JSON.parse(process.argv[2] ?? '{}') as BenchOptions;
  if (options.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.id.padEnd(16)} ${s.label}${s.quick ? '  (quick)' : ''}\n`);
    return 0;
  }
  const report =
    options.from === undefined
      ? await runSuite(options, log)
      : (JSON.parse(await readFile(options.from, 'utf8')) as SuiteReport);
  const verdict = options.guard ? guard(report.rows) : undefined;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...report, guard: verdict }, null, 2)}\n`);
  } else {
    process.stdout.write(`${renderReport(report)}\n`);
  }
  if (options.svg !== undefined) {
    await mkdir(path.dirname(path.resolve(options.svg)), { recursive: true });
    await writeFile(options.svg, renderSvg(report));
    log(`bench: chart written to ${options.svg}`);
  }
  if (verdict) for (const line of verdict.lines) log(line);
  return verdict === undefined || verdict.ok ? 0 : 1;
}

// Ctrl-C: the broker and gateway watchdogs stop their processes once this one is gone,
// and load generators and the echo server exit when their IPC channel closes.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`commitlog bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
