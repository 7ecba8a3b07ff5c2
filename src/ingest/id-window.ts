/**
 * The ids of the dedup window and a value for each: at most `capacity` ids,
 * the oldest evicted first, found by id.
 *
 * Two JS Maps (one per half of the window, the older dropped whole when the
 * newer fills) cost a few cache misses per id in each: a miss loads every key
 * string on the bucket's chain to compare hashes, and nearly every id is new.
 * The bench profile had the lookups and inserts at 8% of the gateway's busy
 * time. Here the ids' 32-bit hashes sit in an open-addressing table (linear
 * probing, at most half full), so a new id costs one probe of a typed array
 * and the id string is only compared when its hash matches. The ids and
 * values are kept in a ring in arrival order, which gives the eviction order.
 */
export class IdWindow<V> {
  readonly #capacity: number;
  /** Per slot, two int32: the ring position + 1 (0 when empty), and the hash. */
  #table: Int32Array;
  #mask: number;
  /** The ring: ids (undefined once deleted), their values and hashes, by position. */
  readonly #ids: Array<string | undefined> = [];
  readonly #values: Array<V | undefined> = [];
  readonly #hashes: number[] = [];
  /** Where the next id goes in the ring. */
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be >= 1, got ${capacity}`);
    this.#capacity = capacity;
    const slots = Math.min(tableSlots(capacity), 1 << 12);
    this.#table = new Int32Array(slots * 2);
    this.#mask = slots - 1;
  }

  /** Ids held. */
  get size(): number {
    return this.#size;
  }

  /** `hash` is hashOf(id) unless the caller has it already; any 32 bits are taken as an int32. */
  get(id: string, hash = hashOf(id)): V | undefined {
    const at = this.#find(id, hash | 0);
    return at < 0 ? undefined : this.#values[this.#table[at * 2] - 1];
  }

  /** Adds an id that is not in the window (look it up first); evicts the oldest when full. */
  add(id: string, value: V, hash = hashOf(id)): void {
    hash |= 0;
    const position = this.#next;
    if (this.#ids.length === this.#capacity) {
      if (this.#ids[position] !== undefined) this.#unlink(this.#slotOf(position));
      this.#ids[position] = id;
      this.#values[position] = value;
      this.#hashes[position] = hash;
    } else {
      this.#ids.push(id);
      this.#values.push(value);
      this.#hashes.push(hash);
    }
    this.#next = position + 1 === this.#capacity ? 0 : position + 1;
    this.#size++;
    // Growing links every id in the ring, this one included.
    if (this.#size * 2 > this.#mask + 1) this.#grow();
    else this.#link(position, hash);
  }

  /** Removes the id if it is held with this value; true if it was. */
  delete(id: string, value: V, hash = hashOf(id)): boolean {
    const at = this.#find(id, hash | 0);
    if (at < 0) return false;
    const position = this.#table[at * 2] - 1;
    if (this.#values[position] !== value) return false;
    this.#unlink(at);
    this.#ids[position] = undefined;
    this.#values[position] = undefined;
    return true;
  }

  /** The table slot holding the id, or -1. */
  #find(id: string, hash: number): number {
    const table = this.#table;
    const mask = this.#mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = table[slot * 2];
      if (entry === 0) return -1;
      if (table[slot * 2 + 1] === hash && this.#ids[entry - 1] === id) return slot;
    }
  }

  /** The table slot of a held ring position. */
  #slotOf(position: number): number {
    const mask = this.#mask;
    let slot = this.#hashes[position] & mask;
    while (this.#table[slot * 2] !== position + 1) slot = (slot + 1) & mask;
    return slot;
  }

  #link(position: number, hash: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let slot = hash & mask;
    while (table[slot * 2] !== 0) slot = (slot + 1) & mask;
    table[slot * 2] = position + 1;
    table[slot * 2 + 1] = hash;
  }

  /** Empties a slot, moving later entries of its probe run back so that every entry stays reachable. */
  #unlink(slot: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let hole = slot;
    for (let next = (hole + 1) & mask; table[next * 2] !== 0; next = (next + 1) & mask) {
      const home = table[next * 2 + 1] & mask;
      // The entry at `next` may fill the hole unless its home lies cyclically in (hole, next].
      const homeAfterHole = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!homeAfterHole) {
        table[hole * 2] = table[next * 2];
        table[hole * 2 + 1] = table[next * 2 + 1];
        hole = next;
      }
    }
    table[hole * 2] = 0;
    table[hole * 2 + 1] = 0;
    this.#size--;
  }

  /** Doubles the table and puts every held id back. */
  #grow(): void {
    const slots = (this.#mask + 1) * 2;
    this.#table = new Int32Array(slots * 2);
    this.#mask = slots - 1;
    for (let position = 0; position < this.#ids.length; position++) {
      if (this.#ids[position] !== undefined) this.#link(position, this.#hashes[position]);
    }
  }
}

/** Table slots for `capacity` ids at most half full: a power of two. */
function tableSlots(capacity: number): number {
  return 2 ** Math.ceil(Math.log2(capacity * 2));
}

/** FNV-1a over the id's UTF-16 code units, as an int32 (what the table stores). */
export function hashOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash | 0;
}
