import type { ScenarioResult } from '../result';
import type { SuiteReport } from '../suite';

type Align = 'left' | 'right';

/**
 * A Markdown table laid out the way Prettier formats one (cells padded to the
 * column width, numbers right-aligned), so the output pastes into
 * docs/benchmarks.md and reads as well in a terminal.
 */
export function markdownTable(header: string[], align: Align[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(3, h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (align[c] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The results table, its notes, and (with --profile) the gateway's top functions. */
export function renderReport(report: SuiteReport): string {
  const { meta, rows } = report;
  const out: string[] = [];
  out.push(
    `commitlog bench, ${meta.startedAt.slice(0, 16).replace('T', ' ')} UTC: ${meta.cpus} × ${meta.cpuModel}, ` +
      `${meta.memoryGiB} GiB, Node ${meta.node}, ${meta.kafka}`,
  );
  out.push(
    `${meta.warmupMs / 1000} s warm-up + ${meta.durationMs / 1000} s measured per scenario; ${meta.generators} generator ` +
      `process(es); bidi: ${meta.streams} streams, ${meta.inflight} events in flight; unary: ${meta.concurrency} calls ` +
      `in flight; ${meta.valueBytes}-byte random values; run took ${Math.round(meta.elapsedMs / 1000)} s`,
  );
  out.push('');
  out.push(
    markdownTable(
      [
        'scenario',
        'events/s',
        '÷ direct',
        '÷ echo',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'server CPU % (main)',
        'server RSS MiB',
        'gen CPU % / ELU',
        'broker CPU %',
        'box busy %',
        'limited by',
      ],
      ['left', ...Array<Align>(11).fill('right'), 'left'],
      rows.map(tableRow),
    ),
  );
  const notes = rows.flatMap((row) => row.notes.map((note) => `- ${rowLabel(row)}: ${note}`));
  if (notes.length > 0) out.push('', ...notes);
  for (const row of rows) {
    if (row.profile === undefined) continue;
    const p = row.profile;
    out.push('', `Gateway CPU profile, ${rowLabel(row)} (${p.busyMs} ms busy; ${p.file}):`, '');
    out.push(
      markdownTable(
        ['self %', 'self ms', 'function', 'where'],
        ['right', 'right', 'left', 'left'],
        p.top.map((e) => [e.selfPct.toFixed(1), String(e.selfMs), e.name.replace(/\|/g, '\\|'), e.where]),
      ),
    );
    const areas = p.byArea.filter((a) => a.selfPct >= 0.5);
    out.push('', `By area (≥ 0.5%): ${areas.map((a) => `${a.area} ${a.selfPct}%`).join(', ')}`);
  }
  return out.join('\n');
}

export function rowLabel(row: ScenarioResult): string {
  return row.mode === 'open' ? `${row.label} open @${formatInt(row.offeredRate ?? 0)}/s` : row.label;
}

function tableRow(row: ScenarioResult): string[] {
  const dash = '–';
  const ms = (value: number | undefined): string => (value === undefined ? dash : formatMs(value));
  const server = row.server;
  return [
    rowLabel(row),
    row.error === undefined ? formatInt(row.eventsPerSec) : 'FAILED',
    row.vsDirect === undefined ? dash : row.vsDirect.toFixed(2),
    row.vsEcho === undefined ? dash : row.vsEcho.toFixed(2),
    ms(row.latency?.p50),
    ms(row.latency?.p99),
    ms(row.latency?.p999),
    server ? `${Math.round(server.cpu)} (${Math.round(server.mainCpu)})` : dash,
    server?.peakRssMiB === undefined ? dash : String(server.peakRssMiB),
    row.target === 'direct'
      ? `(same) / ${row.generator.maxElu.toFixed(2)}`
      : `${Math.round(row.generator.maxCpu)} / ${row.generator.maxElu.toFixed(2)}`,
    row.brokerCpu === undefined ? dash : String(Math.round(row.brokerCpu)),
    String(Math.round(row.boxBusy)),
    row.limitedBy.join(', '),
  ];
}

export function formatInt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Three significant digits or whole ms. */
export function formatMs(value: number): string {
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return String(Math.round(value));
}
