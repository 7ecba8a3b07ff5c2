import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nodeIo, type SegmentFile, type SpillIo } from '../../src/spill/segment-files';
import type { SpillRecord } from '../../src/spill/spill-record';

/** A fresh directory under the OS temp dir; `cleanup` removes it. */
export async function tempDir(name: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `commitlog-${name}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A record with a value of `valueBytes` printable bytes, the id in the value so content is checkable. */
export function spillRecord(id: string, valueBytes = 32, extra: Partial<SpillRecord> = {}): SpillRecord {
  const value = Buffer.alloc(valueBytes, 'v');
  value.write(id.slice(0, valueBytes));
  return {
    id,
    topic: 'orders',
    key: Buffer.from(`key-${id}`),
    value,
    headers: [{ 'commitlog-event-id': id }, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }],
    timestamp: 1_700_000_000_000,
    receivedAt: 1_700_000_000_500,
    reason: 'Local: Broker transport failure',
    ...extra,
  };
}

export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

/** Fault to inject: the next call of `op` rejects with an errno error. */
export interface Fault {
  readonly op: 'writev' | 'datasync' | 'truncate';
  readonly code: string;
}

/**
 * nodeIo with counters and injectable faults: proves how many fsyncs a batch
 * cost and what a failed write does.
 */
export class CountingIo implements SpillIo {
  datasyncs = 0;
  writevs = 0;
  readonly dirSyncs: string[] = [];
  readonly created: string[] = [];
  readonly faults: Fault[] = [];

  async openSegment(file: string, mode: 'create' | 'existing'): Promise<SegmentFile> {
    if (mode === 'create') this.created.push(path.basename(file));
    const inner = await nodeIo.openSegment(file, mode);
    return {
      writev: (buffers, position) => {
        this.writevs++;
        return this.#fault('writev') ?? inner.writev(buffers, position);
      },
      datasync: () => {
        this.datasyncs++;
        return this.#fault('datasync') ?? inner.datasync();
      },
      truncate: (length) => this.#fault('truncate') ?? inner.truncate(length),
      close: () => inner.close(),
    };
  }

  syncDir(dir: string): Promise<void> {
    this.dirSyncs.push(dir);
    return nodeIo.syncDir(dir);
  }

  #fault(op: Fault['op']): Promise<never> | undefined {
    const i = this.faults.findIndex((f) => f.op === op);
    if (i < 0) return undefined;
    const [fault] = this.faults.splice(i, 1);
    return Promise.reject(Object.assign(new Error(`${fault.code}: injected ${op} failure`), { code: fault.code }));
  }
}
