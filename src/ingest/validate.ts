import { status as Status } from '@grpc/grpc-js';
import type { LimitsConfig, PrincipalsConfig, RoutingConfig } from '../config/schema';
import { TOPIC_NAME } from '../config/schema';
import type { CommitEvent__Output } from '../gen/commitlog/v1/CommitEvent';
import { HEADER, RESERVED_PREFIX, type KafkaRecord, type Outcome } from '../sink';
import { AccessPolicy } from './access-policy';
import { TopicRouter } from './router';

export type Validated =
  { readonly ok: true; readonly record: KafkaRecord } | { readonly ok: false; readonly outcome: Outcome };

/**
 * Turns a decoded CommitEvent into the Kafka record it becomes, or into a
 * REJECTED outcome whose message names the offending field. An event its
 * caller's principal may not write is REJECTED with PERMISSION_DENIED.
 */
export class EventValidator {
  readonly #limits: LimitsConfig;
  readonly #router: TopicRouter;
  readonly #bucketKey: boolean;
  readonly #access: AccessPolicy;
  /** Header objects are only read (by node-rdkafka, the spill log): events of one bucket share one. */
  readonly #bucketHeader = new LastHeader(HEADER.bucket);
  readonly #contentTypeHeader = new LastHeader(HEADER.contentType);

  constructor(limits: LimitsConfig, routing: RoutingConfig, principals: PrincipalsConfig = {}) {
    this.#limits = limits;
    this.#access = new AccessPolicy(principals);
    this.#router = new TopicRouter(routing);
    this.#bucketKey = routing.kafkaKey === 'bucket_key';
  }

  validate(event: CommitEvent__Output, principal?: string): Validated {
    const limits = this.#limits;
    const { id, key, bucket, contentType } = event;
    if (id === '') return invalid('id: required, must not be empty');
    if (Buffer.byteLength(id) > limits.maxIdBytes)
      return overLimit('id', Buffer.byteLength(id), 'bytes', 'maxIdBytes', limits);
    if (key.length === 0) return invalid('key: required, must not be empty');
    if (key.length > limits.maxKeyBytes) return overLimit('key', key.length, 'bytes', 'maxKeyBytes', limits);
    const isDelete = event.action === 'ACTION_DELETE';
    if (!isDelete && event.action !== 'ACTION_STORE') return invalid('action: must be ACTION_STORE or ACTION_DELETE');
    if (!isDelete && event.value.length > limits.maxValueBytes) {
      return overLimit('value', event.value.length, 'bytes', 'maxValueBytes', limits);
    }
    const bucketBytes = Buffer.byteLength(bucket);
    if (bucketBytes > limits.maxBucketBytes) return overLimit('bucket', bucketBytes, 'bytes', 'maxBucketBytes', limits);
    const contentTypeBytes = Buffer.byteLength(contentType);
    if (contentTypeBytes > limits.maxContentTypeBytes) {
      return overLimit('content_type', contentTypeBytes, 'bytes', 'maxContentTypeBytes', limits);
    }
    if (event.topic !== '' && !TOPIC_NAME.test(event.topic)) {
      return invalid('topic: not a legal Kafka topic name (1-249 characters of [a-zA-Z0-9._-])');
    }
    const topic = this.#router.route(event.topic, bucket);
    if (topic === undefined)
      return reject(Status.PERMISSION_DENIED, 'topic: this gateway does not let events choose their topic');
    const denied = this.#access.check(principal, topic, bucket);
    if (denied !== undefined) return reject(Status.PERMISSION_DENIED, denied);

    const headers: Record<string, string>[] = [{ [HEADER.eventId]: id }, isDelete ? DELETE_HEADER : STORE_HEADER];
    if (bucket !== '') headers.push(this.#bucketHeader.of(bucket));
    if (contentType !== '') headers.push(this.#contentTypeHeader.of(contentType));
    let metadataBytes = 0;
    if (hasKeys(event.metadata)) {
      const entries = Object.entries(event.metadata);
      if (entries.length > limits.maxMetadataEntries) {
        return overLimit('metadata', entries.length, 'entries', 'maxMetadataEntries', limits);
      }
      for (const [name, value] of entries) {
        if (name === '') return invalid('metadata: an entry has an empty name');
        if (name.startsWith(RESERVED_PREFIX))
          return invalid(`metadata["${name}"]: names starting with "${RESERVED_PREFIX}" are reserved`);
        metadataBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
        headers.push({ [name]: value });
      }
    }
    if (metadataBytes > limits.maxMetadataBytes) {
      return overLimit('metadata', metadataBytes, 'bytes', 'maxMetadataBytes', limits);
    }
    const timestamp = commitTimeMs(event);
    if (timestamp === undefined) return invalid('commit_time: seconds must be >= 0 and nanos within 0..999999999');
    const ahead = timestamp - Date.now();
    if (limits.maxCommitTimeAheadMs > 0 && ahead > limits.maxCommitTimeAheadMs) {
      return invalid(
        `commit_time: ${Math.floor(timestamp / 1000)} s since the epoch is ${ahead} ms ahead of the gateway's clock, more than limits.maxCommitTimeAheadMs (${limits.maxCommitTimeAheadMs})`,
      );
    }

    const kafkaKey = this.#bucketKey ? Buffer.concat([Buffer.from(`${bucket}/`), key]) : key;
    const value = isDelete ? null : event.value;
    return { ok: true, record: { id, topic, key: kafkaKey, value, headers, timestamp, receivedAt: Date.now() } };
  }
}

const STORE_HEADER: Readonly<Record<string, string>> = Object.freeze({ [HEADER.action]: 'STORE' });
const DELETE_HEADER: Readonly<Record<string, string>> = Object.freeze({ [HEADER.action]: 'DELETE' });

/** The header of the last value seen, reused while the value repeats (as a bucket does along a batch). */
class LastHeader {
  #value = '';
  #header: Record<string, string> = {};

  constructor(readonly name: string) {}

  of(value: string): Record<string, string> {
    if (value !== this.#value) {
      this.#value = value;
      this.#header = Object.freeze({ [this.name]: value });
    }
    return this.#header;
  }
}

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}

function commitTimeMs(event: CommitEvent__Output): number | undefined {
  const time = event.commitTime;
  if (time === null) return 0;
  const seconds = Number(time.seconds);
  if (!Number.isSafeInteger(seconds) || seconds < 0 || time.nanos < 0 || time.nanos > 999_999_999) return undefined;
  return seconds * 1000 + Math.floor(time.nanos / 1e6);
}

function reject(code: Status, message: string): Validated {
  return { ok: false, outcome: { kind: 'rejected', code, message } };
}

/** "value: 1001 bytes, more than limits.maxValueBytes (1000)": the field, its size, the setting and its value. */
function overLimit(
  field: string,
  size: number,
  unit: string,
  limit: keyof LimitsConfig,
  limits: LimitsConfig,
): Validated {
  return invalid(`${field}: ${size} ${unit}, more than limits.${limit} (${limits[limit]})`);
}

function invalid(message: string): Validated {
  return reject(Status.INVALID_ARGUMENT, message);
}
