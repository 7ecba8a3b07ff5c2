import type { ProducerGlobalConfig } from 'node-rdkafka';
import type { KafkaConfig } from '../config/schema';

/**
 * The librdkafka properties of the gateway's producer. Idempotence and
 * acks=all are not settings: they are what DELIVERED promises (DESIGN.md §2),
 * so `kafka.properties` cannot turn them off.
 */
export function producerProperties(config: KafkaConfig): ProducerGlobalConfig {
  return {
    ...(config.properties as ProducerGlobalConfig),
    'client.id': config.clientId,
    'metadata.broker.list': config.brokers,
    'linger.ms': config.lingerMs,
    'batch.size': config.batchBytes,
    'batch.num.messages': config.batchMessages,
    'compression.codec': config.compression,
    'queue.buffering.max.messages': config.queueMessages,
    'queue.buffering.max.kbytes': config.queueKbytes,
    // librdkafka: message.timeout.ms bounds total delivery time, retries included.
    'message.timeout.ms': config.deliveryTimeoutMs,
    // librdkafka: idempotence implies acks=all, retries and in-order delivery
    // with up to 5 requests in flight per partition, so retries keep per-key order.
    'enable.idempotence': true,
    acks: 'all',
    dr_cb: true,
  } as ProducerGlobalConfig;
}
