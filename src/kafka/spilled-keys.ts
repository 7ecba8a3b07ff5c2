import type { KafkaRecord } from '../sink';

/**
 * Keys (per topic) with events in the spill log not yet replayed. While a key
 * is here its new events follow it into the spill, so Kafka still sees that
 * key in send order (DESIGN.md §3). Bounded by the spill backlog.
 */
export class SpilledKeys {
  readonly #counts = new Map<string, number>();

  get size(): number {
    return this.#counts.size;
  }

  has(record: Pick<KafkaRecord, 'topic' | 'key'>): boolean {
    return this.#counts.size > 0 && this.#counts.has(keyOf(record));
  }

  add(record: Pick<KafkaRecord, 'topic' | 'key'>): void {
    const key = keyOf(record);
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** One of the key's spilled events is in Kafka now (or was never kept). */
  release(record: Pick<KafkaRecord, 'topic' | 'key'>): void {
    const key = keyOf(record);
    const count = this.#counts.get(key);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(key);
    else this.#counts.set(key, count - 1);
  }
}

function keyOf(record: Pick<KafkaRecord, 'topic' | 'key'>): string {
  // latin1 maps every byte to one char: a lossless string form of binary keys.
  return `${record.topic}\u0000${record.key.toString('latin1')}`;
}
