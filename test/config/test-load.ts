import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { CommitlogError } from '../../src/errors';

function yamlFile(text: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'commitlog-config-')), 'commitlog.yaml');
  writeFileSync(file, text);
  return file;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(CommitlogError);
    expect((err as CommitlogError).code).to.equal('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('config', () => {
  it('applies the defaults of DESIGN.md §6', () => {
    const config = loadConfig();
    expect(config.listen).to.equal('0.0.0.0:50051');
    expect(config.workers).to.equal(0);
    expect(config.kafka.brokers).to.equal('127.0.0.1:9092');
    expect(config.routing.defaultTopic).to.equal('commits');
    expect(config.limits.maxEventsPerMessage).to.equal(1000);
  });

  it('layers file over base and environment over file, and freezes the result', () => {
    const file = yamlFile(
      'listen: 127.0.0.1:7000\nkafka:\n  brokers: file:9092\n  lingerMs: 20\nrouting:\n  defaultTopic: from-file\n',
    );
    const config = loadConfig({
      base: { kafka: { lingerMs: 1, compression: 'zstd' } },
      file,
      env: { COMMITLOG_KAFKA_BROKERS: 'env-a:9092,env-b:9092', COMMITLOG_WORKERS: '0' },
    });
    expect(config.listen).to.equal('127.0.0.1:7000');
    expect(config.kafka.brokers).to.equal('env-a:9092,env-b:9092');
    expect(config.kafka.lingerMs).to.equal(20);
    expect(config.kafka.compression).to.equal('zstd');
    expect(config.routing.defaultTopic).to.equal('from-file');
    expect(Object.isFrozen(config.kafka)).to.equal(true);
  });

  it('names the environment variable behind a bad value', () => {
    expect(configError(() => loadConfig({ env: { COMMITLOG_LISTEN: 'no-port' } }))).to.contain(
      'listen (from COMMITLOG_LISTEN)',
    );
    expect(configError(() => loadConfig({ env: { COMMITLOG_WORKERS: 'many' } }))).to.contain(
      'workers (from COMMITLOG_WORKERS)',
    );
    expect(configError(() => loadConfig({ env: { COMMITLOG_DEFAULT_TOPIC: 'bad topic' } }))).to.match(
      /routing\.defaultTopic \(from COMMITLOG_DEFAULT_TOPIC\): expected a Kafka topic name/,
    );
  });

  it('names the file and the setting for a bad or unknown key in the file', () => {
    const file = yamlFile('kafka:\n  lingerMs: -1\n  bogus: 1\nlimits:\n  maxEventsPerMessage: 0\n');
    const message = configError(() => loadConfig({ file }));
    expect(message).to.contain(`kafka.lingerMs (from ${file})`);
    expect(message).to.contain('bogus');
    expect(message).to.contain('limits.maxEventsPerMessage');
  });

  it('says when the file is not YAML or cannot be read', () => {
    expect(configError(() => loadConfig({ file: '/nonexistent/commitlog.yaml' }))).to.contain(
      'cannot read config file',
    );
    expect(configError(() => loadConfig({ file: yamlFile('- a\n- b\n') }))).to.contain('must hold a YAML mapping');
  });
});
