import { expect } from 'chai';
import fc from 'fast-check';
import { hashOf, IdWindow } from '../../src/ingest/id-window';

/** What IdWindow must behave like: a Map, and the ids in arrival order for eviction. */
class Model<V> {
  readonly map = new Map<string, V>();
  readonly order: string[] = [];
  constructor(readonly capacity: number) {}

  add(id: string, value: V): void {
    // The ring evicts by position: the id added `capacity` adds ago, if still held.
    this.order.push(id);
    if (this.order.length > this.capacity) {
      const old = this.order.shift()!;
      if (old !== '\u0000deleted') this.map.delete(old);
    }
    this.map.set(id, value);
  }

  delete(id: string, value: V): boolean {
    if (this.map.get(id) !== value) return false;
    this.map.delete(id);
    this.order[this.order.lastIndexOf(id)] = '\u0000deleted';
    return true;
  }
}

type Op = { kind: 'add' | 'get' | 'delete'; id: number };

describe('IdWindow', () => {
  it('answers as a FIFO-bounded map over any sequence of adds, gets and deletes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        // Few distinct ids, and a hash that collides for many of them, so probe runs are long.
        fc.boolean(),
        fc.array(fc.record({ kind: fc.constantFrom<Op['kind']>('add', 'add', 'get', 'delete'), id: fc.nat(60) }), {
          maxLength: 400,
        }),
        (capacity, collide, ops) => {
          const window = new IdWindow<number>(capacity);
          const model = new Model<number>(capacity);
          const hash = (id: string): number => (collide ? hashOf(id) & 7 : hashOf(id));
          ops.forEach((op, step) => {
            const id = `id-${op.id}`;
            if (op.kind === 'add') {
              // Callers add only ids not held.
              if (model.map.has(id)) return;
              window.add(id, step, hash(id));
              model.add(id, step);
            } else if (op.kind === 'delete') {
              const value = model.map.get(id) ?? -1;
              expect(window.delete(id, value, hash(id))).to.equal(model.delete(id, value));
            }
            for (let other = 0; other <= 60; other++) {
              const key = `id-${other}`;
              expect(window.get(key, hash(key)), `${key} after step ${step}`).to.equal(model.map.get(key));
            }
            expect(window.size).to.equal(model.map.size);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stays exact through table growth, with collisions and deletes (3,000 ids, 12,000 operations)', () => {
    const capacity = 3000;
    const window = new IdWindow<number>(capacity);
    const model = new Model<number>(capacity);
    // 512 distinct hashes for 12,000 ids: long probe runs across every growth of the table (4,096 → 8,192 slots).
    const hash = (id: string): number => hashOf(id) & 511;
    let seed = 42;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let step = 0; step < 12_000; step++) {
      if (random(4) === 0 && model.map.size > 0) {
        const ids = [...model.map.keys()];
        const id = ids[random(ids.length)];
        expect(window.delete(id, model.map.get(id)!, hash(id))).to.equal(model.delete(id, model.map.get(id)!));
      } else {
        const id = `g-${step}`;
        window.add(id, step, hash(id));
        model.add(id, step);
      }
      if (step % 1000 === 999) {
        for (let other = 0; other <= step; other++) {
          const id = `g-${other}`;
          expect(window.get(id, hash(id)), `${id} at step ${step}`).to.equal(model.map.get(id));
        }
        expect(window.size).to.equal(model.map.size);
      }
    }
  });

  it('delete needs the value it holds: a replaced id is not removed by the old value', () => {
    const window = new IdWindow<object>(4);
    const first = {};
    window.add('a', first);
    expect(window.delete('a', {})).to.equal(false);
    expect(window.get('a')).to.equal(first);
    expect(window.delete('a', first)).to.equal(true);
    expect(window.get('a')).to.equal(undefined);
    expect(window.size).to.equal(0);
  });

  it('holds 100,000 ids, evicts the oldest beyond that, and grows its table as it fills', () => {
    const window = new IdWindow<number>(100_000);
    for (let i = 0; i < 150_000; i++) window.add(`event-${i}`, i);
    expect(window.size).to.equal(100_000);
    expect(window.get('event-49999')).to.equal(undefined);
    expect(window.get('event-50000')).to.equal(50_000);
    expect(window.get('event-149999')).to.equal(149_999);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new IdWindow(0)).to.throw(RangeError, /capacity must be >= 1, got 0/);
  });
});
