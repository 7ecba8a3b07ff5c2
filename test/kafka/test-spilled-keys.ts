import { expect } from 'chai';
import { SpilledKeys } from '../../src/kafka/spilled-keys';

const rec = (topic: string, key: string | Buffer) => ({ topic, key: Buffer.isBuffer(key) ? key : Buffer.from(key) });

describe('SpilledKeys', () => {
  it('holds a key while it has spilled events not yet released, per topic', () => {
    const keys = new SpilledKeys();
    expect(keys.has(rec('t', 'a'))).to.equal(false);
    keys.add(rec('t', 'a'));
    keys.add(rec('t', 'a'));
    expect(keys.has(rec('t', 'a'))).to.equal(true);
    expect(keys.has(rec('u', 'a')), 'same key, other topic').to.equal(false);
    expect(keys.has(rec('t', 'b'))).to.equal(false);
    expect(keys.size).to.equal(1);
    keys.release(rec('t', 'a'));
    expect(keys.has(rec('t', 'a')), 'one of two still waiting').to.equal(true);
    keys.release(rec('t', 'a'));
    expect(keys.has(rec('t', 'a'))).to.equal(false);
    expect(keys.size).to.equal(0);
    keys.release(rec('t', 'a')); // never below zero
    keys.add(rec('t', 'a'));
    expect(keys.has(rec('t', 'a'))).to.equal(true);
  });

  it('tells binary keys apart and keeps 100,000 keys in a fixed table', () => {
    const keys = new SpilledKeys();
    keys.add(rec('t', Buffer.from([0xff, 0x00])));
    expect(keys.has(rec('t', Buffer.from([0xff, 0x00])))).to.equal(true);
    expect(keys.has(rec('t', Buffer.from([0xff, 0x01])))).to.equal(false);
    for (let i = 0; i < 100_000; i++) keys.add(rec('t', `k${i}`));
    for (let i = 0; i < 100_000; i++) expect(keys.has(rec('t', `k${i}`))).to.equal(true);
    // Counters shared by colliding keys are few: the size stays close to the number of keys.
    expect(keys.size).to.be.within(97_000, 100_001);
    for (let i = 0; i < 100_000; i++) keys.release(rec('t', `k${i}`));
    expect(keys.size).to.equal(1);
    let stillHeld = 0;
    for (let i = 0; i < 100_000; i++) if (keys.has(rec('t', `k${i}`))) stillHeld++;
    expect(stillHeld, 'only a key sharing the binary key’s counter, if any').to.be.at.most(1);
  });
});
