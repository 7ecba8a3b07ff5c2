import { connect } from 'node:net';
import { Producer, type Metadata } from 'node-rdkafka';

import type { WatchedProcess } from './watched-process';

const POLL_MS = 100;

/**
 * Resolves once the broker on host:port answers a metadata request that lists itself;
 * rejects early, with the JVM's last output, if the process exits, and after
 * `timeoutMs`. A KRaft broker lists itself only after the controller has unfenced it,
 * which is also the moment it starts accepting produce requests.
 */
export async function waitForBroker(host: string, port: number, jvm: WatchedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const failure = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`local-kafka: broker not ready after ${timeoutMs} ms`)), timeoutMs);
    void jvm.exited.then((exit) => {
      // Once ready nobody listens any more: a later exit must not become an unhandled rejection.
      if (done) return;
      const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
      reject(new Error(`local-kafka: broker exited during start-up (${how}):\n${jvm.recentOutput()}`));
    });
  });
  const ready = (async () => {
    // A refused TCP connect is cheap and silent; librdkafka would log each failure
    // and back off exponentially, so it is only asked once the port is open.
    while (!done && !(await canConnect(host, port))) await sleep(POLL_MS);
    while (!done) {
      const metadata = await fetchMetadata(`${host}:${port}`, Math.max(1000, deadline - Date.now()));
      if (metadata?.brokers.some((broker) => broker.port === port)) return;
      await sleep(POLL_MS);
    }
  })();
  try {
    await Promise.race([ready, failure]);
  } finally {
    done = true;
    clearTimeout(timer);
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function fetchMetadata(brokers: string, timeoutMs: number): Promise<Metadata | undefined> {
  const producer = new Producer({
    'metadata.broker.list': brokers,
    'client.id': 'local-kafka-probe',
    // The probe's failures are expected while the broker boots; they are not news.
    log_level: 0,
    'reconnect.backoff.ms': 50,
    'reconnect.backoff.max.ms': 250,
  });
  return new Promise((resolve) => {
    producer.connect({ timeout: Math.min(timeoutMs, 5000) }, (err, metadata) => {
      if (err) return resolve(undefined);
      producer.disconnect(() => resolve(metadata));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
