export { DeadLetterLog, deadLetterDir } from './dead-letter-log';
export { DiskBudget } from './disk-budget';
export type { AppendResult } from './group-commit';
export { SPILL_DEFAULTS, type SpillDeps, type SpillOptions } from './options';
export { nodeIo, type Position, type SegmentFile, type SpillIo } from './segment-files';
export type { OpenReport } from './segment-log';
export { SpillLog, type AckResult, type Backlog, type ReadEntry, type SpillOpenReport } from './spill-log';
export type { SpillRecord } from './spill-record';
