import { crc32c } from '@node-rs/crc32';
import type { KafkaRecord } from '../sink';

/** Counters in the table: 2^21 of 4 bytes, 8 MiB, allocated on the first spill. */
const SLOTS = 1 << 21;

/**
 * Keys (per topic) with events in the spill log not yet replayed. While a key
 * is here its new events follow it into the spill, so Kafka still sees that
 * key in send order (DESIGN.md §3).
 *
 * A fixed table of counters indexed by CRC-32C of topic and key, not a set of
 * the keys themselves: memory stays 8 MiB however many keys spill (a Map of
 * key strings held most of the gateway's RSS in the spill-only benchmark, and
 * building the strings cost 14% of its CPU). Two keys that share a counter
 * only make each other spill while either has events waiting: an unrelated
 * key may take the spill path a while longer, and order is kept either way.
 */
export class SpilledKeys {
  #counts: Uint32Array | undefined;
  /** Counters above zero. */
  #used = 0;

  /** Counters in use: about the number of keys waiting, less collisions. */
  get size(): number {
    return this.#used;
  }

  has(record: Pick<KafkaRecord, 'topic' | 'key'>): boolean {
    return this.#used > 0 && this.#counts![slotOf(record)] > 0;
  }

  add(record: Pick<KafkaRecord, 'topic' | 'key'>): void {
    this.#counts ??= new Uint32Array(SLOTS);
    const slot = slotOf(record);
    if (this.#counts[slot]++ === 0) this.#used++;
  }

  /** One of the key's spilled events is in Kafka now (or was never kept). */
  release(record: Pick<KafkaRecord, 'topic' | 'key'>): void {
    if (this.#counts === undefined) return;
    const slot = slotOf(record);
    if (this.#counts[slot] === 0) return;
    if (--this.#counts[slot] === 0) this.#used--;
  }
}

function slotOf(record: Pick<KafkaRecord, 'topic' | 'key'>): number {
  return crc32c(record.key, crc32c(record.topic)) & (SLOTS - 1);
}
