import type { ScenarioResult } from '../result';
import type { SuiteReport } from '../suite';
import { formatInt, formatMs, rowLabel } from './table';

const WIDTH = 980;
const LABEL_W = 230;
const RATE_W = 330;
const GAP = 70;
const P99_W = 250;
const ROW_H = 22;
const LEGEND_COLUMN_W = 320;
const TOP = 64;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

/** Bar colour per kind of row; the legend lists the same. */
const KINDS = [
  { name: 'direct producer (Kafka ceiling)', colour: '#6b7280', test: (r: ScenarioResult) => r.target === 'direct' },
  { name: 'echo server (gRPC ceiling)', colour: '#f59e0b', test: (r: ScenarioResult) => r.target === 'echo' },
  { name: 'gateway, spill only', colour: '#dc2626', test: (r: ScenarioResult) => r.variant === 'spill' },
  {
    name: 'gateway, telemetry OTLP / off',
    colour: '#7c3aed',
    test: (r: ScenarioResult) => r.variant === 'otlp' || r.variant === 'off',
  },
  { name: 'gateway, CommitStream', colour: '#2563eb', test: (r: ScenarioResult) => r.rpc === 'stream' },
  { name: 'gateway, unary Commit', colour: '#0d9488', test: () => true },
] as const;

/**
 * The chart of docs/benchmarks.md, drawn from a run's results: per row, a
 * bar of durable events/s (linear) and a bar of p99 ack latency (log scale,
 * latencies span four decades).
 */
export function renderSvg(report: SuiteReport): string {
  const rows = report.rows;
  const height = TOP + rows.length * ROW_H + 90;
  const maxRate = Math.max(1, ...rows.map((r) => r.eventsPerSec));
  const p99s = rows.flatMap((r) => (r.latency ? [r.latency.p99] : []));
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.01, Math.min(1, ...p99s)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(10, ...p99s))));
  const logX = (ms: number): number => (Math.log10(Math.max(ms, lo) / lo) / Math.log10(hi / lo)) * P99_W;
  const rateX0 = LABEL_W;
  const p99X0 = LABEL_W + RATE_W + GAP;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT} font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(title(report))}</text>`,
    `<text x="${rateX0}" y="${TOP - 10}" font-weight="bold">events/s acked durable</text>`,
    `<text x="${p99X0}" y="${TOP - 10}" font-weight="bold">p99 ack latency, ms (log scale)</text>`,
  ];
  for (let decade = lo; decade <= hi * 1.0001; decade *= 10) {
    const x = p99X0 + logX(decade);
    parts.push(
      `<line x1="${x}" y1="${TOP - 4}" x2="${x}" y2="${TOP + rows.length * ROW_H}" stroke="#e5e7eb"/>`,
      `<text x="${x}" y="${TOP + rows.length * ROW_H + 14}" text-anchor="middle" fill="#6b7280">${formatDecade(decade)}</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = TOP + i * ROW_H;
    const colour = KINDS.find((k) => k.test(row))!.colour;
    parts.push(`<text x="${LABEL_W - 8}" y="${y + 15}" text-anchor="end">${esc(rowLabel(row))}</text>`);
    if (row.error !== undefined) {
      parts.push(`<text x="${rateX0 + 4}" y="${y + 15}" fill="#dc2626">failed</text>`);
      return;
    }
    const w = (row.eventsPerSec / maxRate) * (RATE_W - 70);
    parts.push(
      `<rect x="${rateX0}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW_H - 8}" fill="${colour}"/>`,
      `<text x="${(rateX0 + w + 4).toFixed(1)}" y="${y + 15}">${formatInt(row.eventsPerSec)}</text>`,
    );
    if (row.latency) {
      const pw = Math.max(1, logX(row.latency.p99));
      parts.push(
        `<rect x="${p99X0}" y="${y + 4}" width="${pw.toFixed(1)}" height="${ROW_H - 8}" fill="${colour}" fill-opacity="0.75"/>`,
        `<text x="${(p99X0 + pw + 4).toFixed(1)}" y="${y + 15}">${formatMs(row.latency.p99)}</text>`,
      );
    }
  });
  // The legend: two rows of three.
  const legendY = TOP + rows.length * ROW_H + 36;
  KINDS.forEach((kind, i) => {
    const x = 12 + (i % 3) * LEGEND_COLUMN_W;
    const y = legendY + Math.floor(i / 3) * 18;
    parts.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${kind.colour}"/>`,
      `<text x="${x + 16}" y="${y}">${esc(kind.name)}</text>`,
    );
  });
  parts.push(
    `<text x="12" y="${legendY + 40}" fill="#6b7280" font-size="11">${esc(footnote(report))}</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

function title(report: SuiteReport): string {
  const m = report.meta;
  return `commitlog bench — ${m.cpus} cores (${m.cpuModel}), Node ${m.node}, ${m.kafka}`;
}

function footnote(report: SuiteReport): string {
  const m = report.meta;
  return (
    `${m.startedAt.slice(0, 10)}; ${m.warmupMs / 1000} s warm-up + ${m.durationMs / 1000} s measured per row; ` +
    `bidi ${m.streams} streams / ${m.inflight} events in flight, unary ${m.concurrency} calls in flight; ` +
    `${m.valueBytes}-byte values. Drawn by \`commitlog bench --svg\`.`
  );
}

function formatDecade(ms: number): string {
  return ms >= 1 ? formatInt(ms) : String(Number(ms.toPrecision(1)));
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
