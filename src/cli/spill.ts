import { Command, Option } from 'commander';
import { readCursor } from '../spill/cursor-file';
import { spillReplayCommand } from './spill-replay';
import { comparePositions } from '../spill/segment-files';
import { walkSegments, type SegmentRef } from '../spill/spill-tools';
import type { SpillRecord } from '../spill/spill-record';

/** Where a subcommand writes; tests pass their own. */
export interface SpillCliOutput {
  out(line: string): void;
  err(line: string): void;
}

const stdio: SpillCliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** `commitlog spill ...`: read-only tools for a spill directory or one segment file. */
export function spillCommand(output: SpillCliOutput = stdio): Command {
  const spill = new Command('spill').description('look into a spill directory (list, inspect, verify) and replay it');
  spill
    .command('list')
    .alias('ls')
    .description('segments of a spill directory (and its dead letters): records, bytes, times, replay cursor')
    .argument('<dir>', 'spill directory')
    .action(async (dir: string) => void (process.exitCode = await listSpill(dir, output)));
  spill
    .command('inspect')
    .description('decode every record as one JSON line (key and value as utf8 when printable, else base64)')
    .argument('<path>', 'a segment file or a spill directory')
    .action(async (target: string) => void (process.exitCode = await inspectSpill(target, output)));
  spill
    .command('verify')
    .description('check the CRC of every record; exit 1 when anything is damaged')
    .argument('<path>', 'a segment file or a spill directory')
    .action(async (target: string) => void (process.exitCode = await verifySpill(target, output)));
  spill
    .command('replay')
    .description('produce a spill directory no gateway is using into Kafka (or, with --dead, its dead letters)')
    .argument('<dir>', 'spill directory')
    .addOption(new Option('-b, --brokers <list>', 'bootstrap servers (default: the config, COMMITLOG_KAFKA_BROKERS)'))
    .addOption(new Option('-t, --topic <topic>', 'produce every record to this topic instead of its own'))
    .addOption(new Option('--dead', 'replay the dead letters; their segments are deleted once all are delivered'))
    .addOption(new Option('-c, --config <file>', 'YAML configuration file for the producer settings'))
    .addOption(new Option('--timeout <ms>', 'give up after this long').argParser(Number).default(600_000))
    .action(spillReplayCommand);
  return spill;
}

/** Prints a table of segments and the cursor; returns the exit status. */
export async function listSpill(dir: string, output: SpillCliOutput): Promise<number> {
  const cursor = await readCursor(dir);
  const from = cursor.kind === 'cursor' ? cursor.position : { segment: '', offset: 0 };
  let backlog = 0;
  const reports = await tryWalk(dir, output, (ref, offset) => {
    if (ref.log === 'spill' && comparePositions({ segment: ref.name, offset }, from) >= 0) backlog++;
  });
  if (reports === undefined) return 1;
  const time = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());
  const row = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd([5, 24][i]) : c.padStart(9))).join('  ');
  output.out(row(['LOG', 'SEGMENT', 'RECORDS', 'BYTES', 'OLDEST', 'NEWEST']).trimEnd());
  for (const r of reports)
    output.out(
      row([r.ref.log, r.ref.name, String(r.records), String(r.size), time(r.firstReceivedAt), time(r.lastReceivedAt)]),
    );
  const where =
    cursor.kind === 'cursor'
      ? `${cursor.position.segment}@${cursor.position.offset}`
      : cursor.kind === 'none'
        ? 'none (replay starts at the first record)'
        : `unreadable (${cursor.message})`;
  output.out(`cursor: ${where}`);
  output.out(`backlog: ${backlog} records to replay`);
  const damaged = reports.reduce((n, r) => n + r.damage.length, 0);
  if (damaged > 0) output.out(`damage: ${damaged} damaged ranges (run verify for details)`);
  return 0;
}

/** One JSON line per record; damage goes to stderr and makes the status 1. */
export async function inspectSpill(target: string, output: SpillCliOutput): Promise<number> {
  const reports = await tryWalk(target, output, (ref, offset, _bytes, record) =>
    output.out(JSON.stringify(describeRecord(ref, offset, record))),
  );
  if (reports === undefined) return 1;
  for (const r of reports) for (const d of r.damage) output.err(`${r.ref.path}: offset ${d.offset}: ${d.message}`);
  return reports.some((r) => r.damage.length > 0) ? 1 : 0;
}

/** A CRC walk of every record: one line per segment, one per damaged range, a summary; status 1 on any damage. */
export async function verifySpill(target: string, output: SpillCliOutput): Promise<number> {
  const reports = await tryWalk(target, output);
  if (reports === undefined) return 1;
  let damaged = 0;
  for (const r of reports) {
    output.out(`${r.ref.path}: ${r.records} records, ${r.size} bytes${r.damage.length === 0 ? ', ok' : ''}`);
    for (const d of r.damage) {
      damaged++;
      const fix = d.repair === 'cut' ? 'cut off' : d.repair === 'pad' ? 'padded over' : 'left alone';
      output.out(
        `  DAMAGED at offset ${d.offset} (${d.end - d.offset} bytes, ${d.kind}): ${d.message}; on open: quarantined and ${fix}`,
      );
    }
  }
  const records = reports.reduce((n, r) => n + r.records, 0);
  output.out(
    `verify: ${reports.length} segments, ${records} records, ${damaged === 0 ? 'clean' : `${damaged} damaged ranges`}`,
  );
  return damaged === 0 ? 0 : 1;
}

async function tryWalk(
  target: string,
  output: SpillCliOutput,
  visit?: Parameters<typeof walkSegments>[1],
): Promise<Awaited<ReturnType<typeof walkSegments>> | undefined> {
  try {
    return await walkSegments(target, visit);
  } catch (err) {
    output.err(`commitlog spill: cannot read ${target}: ${(err as Error).message}`);
    return undefined;
  }
}

type Bytes = { readonly utf8: string } | { readonly base64: string };

function describeRecord(ref: SegmentRef, position: number, r: SpillRecord): Record<string, unknown> {
  return {
    log: ref.log,
    segment: ref.name,
    position,
    id: r.id,
    topic: r.topic,
    key: bytes(r.key),
    value: r.value === null ? null : bytes(r.value),
    headers: r.headers,
    timestamp: r.timestamp,
    receivedAt: r.receivedAt,
    reason: r.reason,
  };
}

/** Control characters other than tab and newlines: text holding them prints as base64. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Bytes that are valid UTF-8 and hold no control character print as text. */
function bytes(buf: Buffer): Bytes {
  const text = buf.toString('utf8');
  return Buffer.from(text, 'utf8').equals(buf) && !CONTROL.test(text)
    ? { utf8: text }
    : { base64: buf.toString('base64') };
}
