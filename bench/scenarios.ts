import type { GatewayVariant } from './targets/gateway-target';

/** One row of the benchmark. */
export interface Scenario {
  /** For --only and the JSON output, e.g. "bidi-100". */
  id: string;
  /** For the table, e.g. "bidi ×100". */
  label: string;
  /** What serves the load: the gateway, the gRPC echo server, or nothing (node-rdkafka in the generator). */
  target: 'gateway' | 'echo' | 'direct';
  rpc: 'stream' | 'unary' | 'direct';
  /** Events per request message. */
  batch: number;
  /** Gateway set-up (target gateway). */
  variant?: GatewayVariant;
  /** Producer worker processes (config `workers`) of the gateway; 0 when absent. */
  workers?: number;
  /** Part of --quick (and so of the guard). */
  quick?: boolean;
}

const gateway = (rpc: 'stream' | 'unary', batch: number, quick = false): Scenario => ({
  id: `${rpc === 'stream' ? 'bidi' : 'unary'}-${batch}`,
  label: `${rpc === 'stream' ? 'bidi' : 'unary'} ×${batch}`,
  target: 'gateway',
  rpc,
  batch,
  variant: 'metrics',
  quick,
});

const echo = (rpc: 'stream' | 'unary', batch: number, quick = false): Scenario => ({
  id: `echo-${rpc === 'stream' ? 'bidi' : 'unary'}-${batch}`,
  label: `echo ${rpc === 'stream' ? 'bidi' : 'unary'} ×${batch}`,
  target: 'echo',
  rpc,
  batch,
  quick,
});

/** Every scenario, in the order they run and are reported. */
export const SCENARIOS: readonly Scenario[] = [
  { id: 'direct', label: 'direct producer', target: 'direct', rpc: 'direct', batch: 1, quick: true },
  gateway('stream', 1),
  gateway('stream', 10),
  gateway('stream', 100, true),
  gateway('stream', 500),
  gateway('unary', 1, true),
  gateway('unary', 100),
  echo('stream', 1),
  echo('stream', 100),
  echo('unary', 1, true),
  echo('unary', 100),
  { ...gateway('stream', 100), id: 'bidi-100-otlp', label: 'bidi ×100 telemetry OTLP', variant: 'otlp', quick: false },
  { ...gateway('stream', 100), id: 'bidi-100-notel', label: 'bidi ×100 telemetry off', variant: 'off', quick: false },
  ...[1, 2, 4].map((workers) => ({
    ...gateway('stream', 100),
    id: `bidi-100-w${workers}`,
    label: `bidi ×100 ${workers} worker${workers > 1 ? 's' : ''}`,
    workers,
  })),
  { ...gateway('unary', 1), id: 'unary-1-w2', label: 'unary ×1 2 workers', workers: 2 },
  { ...gateway('stream', 100), id: 'spill-bidi-100', label: 'bidi ×100 spill only', variant: 'spill', quick: false },
];

/** The scenarios a run covers: --only if given, else the quick subset or all. */
export function selectScenarios(only: readonly string[] | undefined, quick: boolean): Scenario[] {
  if (only === undefined || only.length === 0) return SCENARIOS.filter((s) => !quick || s.quick === true);
  const unknown = only.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  }
  return SCENARIOS.filter((s) => only.includes(s.id));
}

/** The scenario a row is divided by in the "÷ echo" column: the echo server with the same RPC and batch. */
export function echoOf(scenario: Pick<Scenario, 'target' | 'rpc' | 'batch'>): string | undefined {
  if (scenario.target !== 'gateway') return undefined;
  return `echo-${scenario.rpc === 'stream' ? 'bidi' : 'unary'}-${scenario.batch}`;
}
