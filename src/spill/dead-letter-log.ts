import path from 'node:path';
import { DiskBudget } from './disk-budget';
import type { AppendResult } from './group-commit';
import { checkSpillOptions, type SpillDeps, type SpillOptions } from './options';
import { SegmentLog, type OpenReport } from './segment-log';
import type { SpillRecord } from './spill-record';

/** Dead letters sit beside the spill segments, in their own directory. */
export function deadLetterDir(spillDir: string): string {
  return path.join(spillDir, 'dead');
}

/**
 * Records that failed for good (too large, topic not authorised or unknown):
 * kept durably with their reason in `<dir>/dead`, never replayed by the
 * gateway. Same framing, group commit, recovery and disk cap as the spill log.
 */
export class DeadLetterLog {
  readonly #log: SegmentLog;

  constructor(options: SpillOptions, deps: SpillDeps = {}) {
    checkSpillOptions(options);
    this.#log = new SegmentLog({
      dir: deadLetterDir(options.dir),
      segmentBytes: options.segmentBytes,
      budget: deps.budget ?? new DiskBudget(options.maxBytes),
      io: deps.io,
    });
  }

  open(): Promise<OpenReport> {
    return this.#log.open();
  }

  /** Resolves ok after an fsync that covers the record; `record.reason` says why it is dead. */
  append(record: SpillRecord): Promise<AppendResult> {
    return this.#log.append(record);
  }

  /** Dead letters on disk, for metrics. */
  get stored(): { readonly events: number; readonly bytes: number } {
    let events = 0;
    let bytes = 0;
    for (const s of this.#log.segments) {
      events += s.records;
      bytes += s.size;
    }
    return { events, bytes };
  }

  close(): Promise<void> {
    return this.#log.close();
  }
}
