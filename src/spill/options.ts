import type { DiskBudget } from './disk-budget';
import type { SpillIo } from './segment-files';

const MiB = 1024 * 1024;

/**
 * What the config maps onto (the `spill` section): plain data, validated by
 * config's schema. Dead letters live in `<dir>/dead` and count against the
 * same `maxBytes`.
 */
export interface SpillOptions {
  /** The pod's spill directory (COMMITLOG_SPILL_DIR). */
  readonly dir: string;
  /** Disk cap for spill and dead-letter segments together; past it appends are refused, nothing is evicted. */
  readonly maxBytes: number;
  /** A segment is sealed and a new one started when the next write would take it past this size. */
  readonly segmentBytes: number;
}

export const SPILL_DEFAULTS: SpillOptions = {
  dir: '.spill',
  maxBytes: 1024 * MiB,
  segmentBytes: 16 * MiB,
};

/** What a log is built with besides its options. */
export interface SpillDeps {
  /** Shared by the spill and dead-letter logs; a private one of `maxBytes` when omitted. */
  readonly budget?: DiskBudget;
  /** For tests: count fsyncs, fail writes. */
  readonly io?: SpillIo;
}

export function checkSpillOptions(options: SpillOptions): void {
  if (options.dir === '') throw new RangeError('spill dir must not be empty');
  if (!Number.isSafeInteger(options.segmentBytes) || options.segmentBytes < 1)
    throw new RangeError(`spill segmentBytes must be a positive integer, got ${options.segmentBytes}`);
  if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 0)
    throw new RangeError(`spill maxBytes must be a non-negative integer, got ${options.maxBytes}`);
}
