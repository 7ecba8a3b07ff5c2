import { crc32c } from '@node-rs/crc32';
import { expect } from 'chai';
import { encodeFrame, FRAME_HEADER_BYTES, paddingFrame } from '../../src/spill/frame';
import {
  decodeSpillPayload,
  encodeSpillPayload,
  FORMAT_VERSION,
  type PayloadDecode,
  type SpillRecord,
} from '../../src/spill/spill-record';
import { spillRecord } from './spill-fixtures';

const decoded = (record: SpillRecord): PayloadDecode => ({ kind: 'record', record });

describe('spill record encoding', () => {
  it('uses CRC-32C (Castagnoli): the standard check value of "123456789" is 0xE3069283', () => {
    expect(crc32c(Buffer.from('123456789'))).to.equal(0xe3069283);
  });

  it('round-trips every field: tombstones, empty keys, headers in order, non-ASCII text, any number', () => {
    const records: SpillRecord[] = [
      spillRecord('a'),
      { ...spillRecord('tomb'), value: null },
      { ...spillRecord('empty'), key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [] },
      {
        ...spillRecord('ünïcödé-✓'),
        topic: 'topic.with-dots_1',
        key: Buffer.from([0, 255, 1, 254]),
        headers: [{ b: '2' }, { a: '1' }, { b: '3' }, { 'x-ümlaut': '☃' }],
        timestamp: 0,
        receivedAt: 1_700_000_000_123.5,
        reason: 'Broker: Topic authorization failed — topic "x"',
      },
      { ...spillRecord('big'), value: Buffer.alloc(300_000, 7), key: Buffer.alloc(200, 1) },
    ];
    for (const record of records) expect(decodeSpillPayload(encodeSpillPayload(record))).to.deep.equal(decoded(record));
  });

  it('keeps a multi-entry header object as that many single-entry headers, in order', () => {
    const headers: Array<Record<string, string>> = [{ a: '1', b: '2' }, { c: '3' }];
    const record = { ...spillRecord('h'), headers };
    const out = decodeSpillPayload(encodeSpillPayload(record));
    expect(out.kind === 'record' && out.record.headers).to.deep.equal([{ a: '1' }, { b: '2' }, { c: '3' }]);
  });

  it('starts with the format version and puts receivedAt at bytes 1-8', () => {
    const payload = encodeSpillPayload(spillRecord('v', 1, { receivedAt: 42.25 }));
    expect(payload[0]).to.equal(FORMAT_VERSION);
    expect(payload.readDoubleLE(1)).to.equal(42.25);
  });

  it('frames as u32 LE length + u32 LE CRC-32C of the payload + payload', () => {
    const record = spillRecord('f');
    const frame = encodeFrame(record);
    const payload = encodeSpillPayload(record);
    expect(frame.readUInt32LE(0)).to.equal(payload.length);
    expect(frame.readUInt32LE(4)).to.equal(crc32c(payload));
    expect(frame.subarray(FRAME_HEADER_BYTES)).to.deep.equal(payload);
  });

  it('makes padding frames that decode as padding, of the exact length asked for', () => {
    const frame = paddingFrame(50);
    expect(frame.length).to.equal(50);
    expect(frame.readUInt32LE(0)).to.equal(42);
    expect(frame.readUInt32LE(4)).to.equal(crc32c(frame.subarray(8)));
    expect(decodeSpillPayload(frame.subarray(8))).to.deep.equal({ kind: 'padding' });
  });

  it('names what is wrong with a payload it cannot decode, never throwing', () => {
    const payload = encodeSpillPayload(spillRecord('x'));
    const cut = decodeSpillPayload(payload.subarray(0, payload.length - 3));
    expect(cut).to.deep.include({ kind: 'malformed' });
    expect(cut.kind === 'malformed' && cut.message).to.match(
      /^reason: needs \d+ bytes at byte \d+, payload has \d+ left$/,
    );

    expect(decodeSpillPayload(Buffer.concat([payload, Buffer.from([1, 2])]))).to.deep.equal({
      kind: 'malformed',
      message: '2 bytes after the reason',
    });
    const flags = Buffer.from(payload);
    flags[17] = 0x80;
    expect(decodeSpillPayload(flags)).to.deep.equal({ kind: 'malformed', message: 'unknown flags 0x80' });
    expect(decodeSpillPayload(Buffer.alloc(0))).to.deep.equal({ kind: 'malformed', message: 'empty payload' });

    const newer = Buffer.from(payload);
    newer[0] = 9;
    expect(decodeSpillPayload(newer)).to.deep.include({ kind: 'unsupported', version: 9 });
  });
});
