import type { ProducerGlobalConfig, ProducerTopicConfig } from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema';

/**
 * The librdkafka properties of the gateway's producer. Idempotence and
 * acks=all are not settings: they are what DELIVERED promises (DESIGN.md §2),
 * so `kafka.properties` cannot turn them off.
 */
export function producerProperties(config: KafkaConfig): { global: ProducerGlobalConfig; topic: ProducerTopicConfig } {
  const global = {
    ...(config.properties as ProducerGlobalConfig),
    'client.id': config.clientId,
    'metadata.broker.list': config.brokers,
    'linger.ms': config.lingerMs,
    'batch.size': config.batchBytes,
    'batch.num.messages': config.batchMessages,
    'compression.codec': config.compression,
    'queue.buffering.max.messages': config.queueMessages,
    'queue.buffering.max.kbytes': config.queueKbytes,
    // librdkafka: idempotence implies acks=all, retries and in-order delivery
    // with up to 5 requests in flight per partition, so retries keep per-key order.
    'enable.idempotence': true,
    dr_cb: true,
  } as ProducerGlobalConfig;
  // Topic-level properties must go in node-rdkafka's topic config: set in the
  // global one they are silently ignored (message.timeout.ms stayed 300 s).
  const topic: ProducerTopicConfig = {
    // librdkafka: message.timeout.ms bounds total delivery time, retries included.
    'message.timeout.ms': config.deliveryTimeoutMs,
    'request.required.acks': -1,
  };
  return { global, topic };
}
