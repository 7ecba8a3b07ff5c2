import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { ConfigInput } from '../../src/config/schema';
import { producerProperties } from '../../src/kafka/producer-config';

describe('config: kafka.sasl (credentials from files)', () => {
  let dir: string;
  const file = (name: string): string => path.join(dir, name);
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'commitlog-sasl-'));
    writeFileSync(file('username'), 'gateway\n');
    writeFileSync(file('password'), 'pa ss:word\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const load = (kafka: ConfigInput['kafka']) => loadConfig({ base: { kafka } });
  const failure = (kafka: ConfigInput['kafka']): string => {
    try {
      load(kafka);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the configuration to be refused');
  };

  it('hands librdkafka the mechanism, the user and the password read from their files, over SASL_SSL', () => {
    const config = load({
      sasl: { mechanism: 'SCRAM-SHA-512', usernameFile: file('username'), passwordFile: file('password') },
      properties: { 'ssl.ca.location': '/etc/kafka/ca.crt' },
    });
    const { global } = producerProperties(config.kafka);
    expect(global).to.include({
      'security.protocol': 'SASL_SSL',
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'gateway',
      // Only the trailing newline is dropped: a password may hold spaces and colons.
      'sasl.password': 'pa ss:word',
      'ssl.ca.location': '/etc/kafka/ca.crt',
    });
  });

  it('takes a literal username and an explicit SASL_PLAINTEXT', () => {
    const config = load({
      sasl: { mechanism: 'PLAIN', username: 'svc', passwordFile: file('password') },
      properties: { 'security.protocol': 'SASL_PLAINTEXT' },
    });
    expect(config.kafka.properties).to.include({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.username': 'svc' });
  });

  it('stops start-up naming the setting when a file cannot be read', () => {
    const message = failure({
      sasl: { mechanism: 'PLAIN', username: 'svc', passwordFile: file('missing') },
    });
    expect(message).to.contain(`kafka.sasl.passwordFile (from settings): cannot read ${file('missing')}: ENOENT`);
  });

  it('refuses SASL settings given twice, a protocol without SASL, and neither or both usernames', () => {
    expect(
      failure({
        sasl: { mechanism: 'PLAIN', username: 'svc', passwordFile: file('password') },
        properties: { 'sasl.password': 'inline' },
      }),
    ).to.contain('kafka.properties.sasl.password (from settings): set by kafka.sasl');
    expect(
      failure({
        sasl: { mechanism: 'PLAIN', username: 'svc', passwordFile: file('password') },
        properties: { 'security.protocol': 'SSL' },
      }),
    ).to.contain('kafka.properties.security.protocol (from settings): kafka.sasl needs SASL_SSL or SASL_PLAINTEXT');
    expect(failure({ sasl: { mechanism: 'PLAIN', passwordFile: file('password') } })).to.contain(
      'set username or usernameFile',
    );
    expect(
      failure({
        sasl: { mechanism: 'PLAIN', username: 'a', usernameFile: file('username'), passwordFile: file('password') },
      }),
    ).to.contain('set username or usernameFile');
    expect(failure({ sasl: { mechanism: 'GSSAPI' as never, username: 'a', passwordFile: 'x' } })).to.contain(
      'kafka.sasl.mechanism',
    );
  });

  it('leaves the properties alone without kafka.sasl', () => {
    expect(load({ properties: { 'security.protocol': 'SSL' } }).kafka.properties).to.deep.equal({
      'security.protocol': 'SSL',
    });
  });
});
