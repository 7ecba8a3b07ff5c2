import type { RoutingConfig } from '../config/schema';

/**
 * Picks an event's topic: its own where allowed, else its bucket's mapping,
 * else the default topic (DESIGN.md §2).
 */
export class TopicRouter {
  readonly #config: RoutingConfig;
  readonly #bucketTopics: Map<string, string>;

  constructor(config: RoutingConfig) {
    this.#config = config;
    this.#bucketTopics = new Map(Object.entries(config.bucketTopics));
  }

  /** The topic, or undefined when the event names a topic it may not use. */
  route(eventTopic: string, bucket: string): string | undefined {
    if (eventTopic !== '') return this.#config.allowEventTopic ? eventTopic : undefined;
    return this.#bucketTopics.get(bucket) ?? this.#config.defaultTopic;
  }
}
