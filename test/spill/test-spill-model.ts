import { expect } from 'chai';
import fc from 'fast-check';
import { open as openFile, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { nodeIo, type SegmentFile, type SpillIo } from '../../src/spill/segment-files';
import { SpillLog } from '../../src/spill/spill-log';
import { segmentFiles, spillRecord, tempDir } from './spill-fixtures';

/**
 * nodeIo until it crashes: from then on every operation fails and the result
 * of any still running is withheld, as if the process died while it ran.
 * What the crash does to the unsynced tail is then done to the file by the test.
 */
class CrashableIo implements SpillIo {
  #crashed = false;
  #running = 0;
  #settled: Array<() => void> = [];
  /** Operations left before an armed crash; the next one then dies before it runs. */
  #countdown: number | undefined;
  #onCrash: Array<() => void> = [];

  /** Per file: the end of completed writes, and how much of it a completed fsync covered. */
  readonly #written = new Map<string, number>();
  readonly #synced = new Map<string, number>();

  /** Bytes of `file` that survive any crash: what completed fsyncs covered (the whole file if untouched). */
  synced(file: string): number | undefined {
    return this.#synced.get(file);
  }

  async openSegment(file: string, mode: 'create' | 'existing'): Promise<SegmentFile> {
    const inner = await this.#guard(async () => {
      const handle = await nodeIo.openSegment(file, mode);
      // A dead process's descriptors close with it.
      if (this.#crashed) await handle.close();
      return handle;
    });
    const size = mode === 'create' ? 0 : (await stat(file)).size;
    this.#written.set(file, size);
    this.#synced.set(file, size);
    return {
      writev: async (buffers, position) => {
        const result = await this.#guard(() => inner.writev(buffers, position));
        this.#written.set(file, Math.max(this.#written.get(file)!, position + result.bytesWritten));
        return result;
      },
      datasync: async () => {
        const covered = this.#written.get(file)!;
        await this.#guard(() => inner.datasync());
        this.#synced.set(file, Math.max(this.#synced.get(file)!, covered));
      },
      truncate: async (length) => {
        await this.#guard(() => inner.truncate(length));
        this.#written.set(file, length);
        this.#synced.set(file, Math.min(this.#synced.get(file)!, length));
      },
      close: () => inner.close(),
    };
  }

  syncDir(dir: string): Promise<void> {
    return this.#guard(() => nodeIo.syncDir(dir));
  }

  /** Crashes when `ops` more operations have started: between a writev and its fsync, say. */
  arm(ops: number): Promise<void> {
    this.#countdown = ops;
    return new Promise((resolve) => this.#onCrash.push(resolve));
  }

  /** Crashes now; resolves once no operation started before still runs. */
  crash(): Promise<void> {
    this.#crashed = true;
    for (const resolve of this.#onCrash.splice(0)) resolve();
    return this.#running === 0 ? Promise.resolve() : new Promise((resolve) => this.#settled.push(resolve));
  }

  async #guard<T>(op: () => Promise<T>): Promise<T> {
    if (this.#countdown !== undefined && this.#countdown-- <= 0) void this.crash();
    if (this.#crashed) throw Object.assign(new Error('crashed'), { code: 'EIO' });
    this.#running++;
    try {
      const result = await op();
      if (this.#crashed) throw Object.assign(new Error('crashed'), { code: 'EIO' });
      return result;
    } finally {
      if (--this.#running === 0) for (const resolve of this.#settled.splice(0)) resolve();
    }
  }
}

type Op =
  | { kind: 'append'; count: number; size: number }
  | { kind: 'settle' }
  | { kind: 'replay'; count: number; order: number[] }
  /**
   * Appends `inFlight` more records, lets `afterIoOps` file operations run and
   * crashes, so some appends die mid-write or mid-fsync; then damages the
   * unsynced tail from `cutPerMille` of it on.
   */
  | {
      kind: 'crash';
      inFlight: number;
      afterIoOps: number;
      cutPerMille: number;
      damage: 'truncate' | 'zeros' | 'garbage';
    };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant('append'), count: fc.integer({ min: 1, max: 12 }), size: fc.nat(300) }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('settle') }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('replay'),
      count: fc.integer({ min: 1, max: 8 }),
      order: fc.array(fc.nat(), { maxLength: 8 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('crash'),
      inFlight: fc.nat(8),
      afterIoOps: fc.nat(5),
      cutPerMille: fc.nat(1000),
      damage: fc.constantFrom('truncate', 'zeros', 'garbage'),
    }),
    weight: 2,
  },
);

/** One appended record as the model sees it; `acked` once its append resolved ok. */
interface Entry {
  readonly id: string;
  acked: boolean;
}

const SEGMENT_BYTES = 1500;

describe('SpillLog against an in-memory model (fast-check)', () => {
  it('never invents a record, never loses an acknowledged one, keeps append order, across crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const { dir, cleanup } = await tempDir('model');
        try {
          await run(dir, [
            ...ops,
            { kind: 'crash', inFlight: 0, afterIoOps: 0, cutPerMille: 1000, damage: 'truncate' },
          ]);
        } finally {
          await cleanup();
        }
      }),
      { numRuns: 100 },
    );
  });
});

async function run(dir: string, ops: Op[]): Promise<void> {
  const options = { dir, segmentBytes: SEGMENT_BYTES, maxBytes: 1 << 30 };
  /** Records not yet replayed and acknowledged, in append order. */
  let model: Entry[] = [];
  let pending: Promise<unknown>[] = [];
  let next = 0;
  let io = new CrashableIo();
  let log = new SpillLog(options, { io });
  await log.open();

  const append = (count: number, size: number): void => {
    for (let i = 0; i < count; i++) {
      const record = spillRecord(`e${next++}`, size);
      const entry: Entry = { id: record.id, acked: false };
      model.push(entry);
      pending.push(log.append(record).then((r) => (entry.acked = r.ok)));
    }
  };

  for (const op of ops) {
    if (op.kind === 'append') {
      append(op.count, op.size);
    } else if (op.kind === 'settle') {
      await Promise.all(pending);
      pending = [];
      expect(model.every((e) => e.acked)).to.equal(true);
    } else if (op.kind === 'replay') {
      const batch = await log.readBatch(op.count);
      // Durable records form a prefix of the unreplayed ones: appends settle in order.
      expect(batch.map((e) => e.record.id)).to.deep.equal(model.slice(0, batch.length).map((e) => e.id));
      const order = batch.map((e, i) => ({ e, k: op.order[i] ?? i })).sort((a, b) => a.k - b.k);
      const acks = await Promise.all(order.map(({ e }) => log.acknowledge(e.position)));
      expect(acks.every((a) => a.ok)).to.equal(true);
      model = model.slice(batch.length);
    } else {
      append(op.inFlight, 150);
      await Promise.race([io.arm(op.afterIoOps), Promise.all(pending)]);
      await io.crash();
      await log.close();
      await Promise.all(pending);
      pending = [];
      await damageTail(dir, io, op);
      model = await checkRecovered(options, model);
      io = new CrashableIo();
      log = new SpillLog(options, { io });
      expect((await log.open()).backlog.events).to.equal(model.length);
    }
  }
  await log.close();
}

async function lastSegment(dir: string): Promise<{ name: string; size: number } | undefined> {
  const name = (await segmentFiles(dir)).at(-1);
  return name === undefined ? undefined : { name, size: (await stat(path.join(dir, name))).size };
}

/**
 * What a crash leaves of the last segment's unsynced tail: cut short, zeroed
 * or garbage. Only bytes a completed fsync covered are safe: the model trusts
 * the io's record of fsyncs, not the log's acks, so an ack sent before its
 * fsync would show up as a lost record.
 */
async function damageTail(dir: string, io: CrashableIo, op: Op & { kind: 'crash' }): Promise<void> {
  const last = await lastSegment(dir);
  if (last === undefined) return;
  const durable = io.synced(path.join(dir, last.name)) ?? last.size;
  const cut = durable + Math.floor((op.cutPerMille / 1000) * (last.size - durable));
  const file = path.join(dir, last.name);
  if (op.damage === 'truncate' || cut === last.size) return truncate(file, cut);
  const fill =
    op.damage === 'zeros'
      ? Buffer.alloc(last.size - cut)
      : Buffer.from(Array.from({ length: last.size - cut }, (_, i) => (i * 131 + 7) & 0xff));
  const handle = await openFile(file, 'r+');
  await handle.write(fill, 0, fill.length, cut);
  await handle.close();
}

/** Reopens, reads everything, checks it against the model; the survivors are the new model. */
async function checkRecovered(
  options: { dir: string; segmentBytes: number; maxBytes: number },
  model: readonly Entry[],
): Promise<Entry[]> {
  const log = new SpillLog(options);
  await log.open();
  const read: string[] = [];
  for (let batch = await log.readBatch(100); batch.length > 0; batch = await log.readBatch(100))
    read.push(...batch.map((e) => e.record.id));
  await log.close();
  // A subsequence of the model: nothing invented, nothing replayed twice, order kept...
  let j = 0;
  for (const id of read) {
    while (j < model.length && model[j].id !== id) {
      // ...and nothing acknowledged skipped.
      expect(model[j].acked, `acknowledged ${model[j].id} lost`).to.equal(false);
      j++;
    }
    expect(j, `${id} read but never appended (or out of order)`).to.be.below(model.length);
    j++;
  }
  for (; j < model.length; j++) expect(model[j].acked, `acknowledged ${model[j].id} lost`).to.equal(false);
  const survivors = new Set(read);
  return model.filter((e) => survivors.has(e.id)).map((e) => ({ id: e.id, acked: true }));
}
