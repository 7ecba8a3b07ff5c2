import { expect } from 'chai';
import fc from 'fast-check';
import type { Ack } from '../../src/gen/commitlog/v1/Ack';
import type { CommitEvent } from '../../src/gen/commitlog/v1/CommitEvent';
import { loadCommitlogProto } from '../../src/server/proto';
import { decodeCommitRequest, encodeAckResponse, withWireCodecs } from '../../src/server/wire';

/** proto-loader's codecs: what the server used before, and what clients use. */
const loader = loadCommitlogProto().commitlog.v1.CommitLogService.service;

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);

const event: fc.Arbitrary<CommitEvent> = fc.record(
  {
    id: text,
    action: fc.oneof(
      fc.constantFrom('ACTION_UNSPECIFIED', 'ACTION_STORE', 'ACTION_DELETE'),
      fc.integer({ min: 3, max: 9 }),
    ),
    bucket: text,
    key: fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
    value: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    contentType: text,
    metadata: fc.dictionary(text, text, { maxKeys: 3 }),
    commitTime: fc.record({ seconds: int64, nanos: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
    topic: text,
  },
  { requiredKeys: [] },
) as fc.Arbitrary<CommitEvent>;

const outcome = fc.oneof(
  fc.constantFrom(
    'OUTCOME_UNSPECIFIED',
    'OUTCOME_DELIVERED',
    'OUTCOME_SPILLED',
    'OUTCOME_DUPLICATE',
    'OUTCOME_DEAD_LETTERED',
    'OUTCOME_REJECTED',
  ),
  fc.integer({ min: 0, max: 5 }),
);
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });

const ack: fc.Arbitrary<Ack> = fc.record(
  {
    id: text,
    outcome,
    topic: text,
    partition: int32,
    offset: fc.oneof(fc.nat(), fc.maxSafeNat(), int64),
    firstOutcome: outcome,
    code: int32,
    message: fc.string({ unit: 'grapheme', maxLength: 300 }),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Ack>;

describe('server wire codecs', () => {
  it('decode requests exactly as proto-loader does', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 5 }), (events) => {
        const bytes = loader.CommitStream.requestSerialize({ events });
        const ours = decodeCommitRequest(bytes);
        expect(ours).to.deep.equal(loader.CommitStream.requestDeserialize(bytes));
        for (const e of ours.events) {
          expect(Buffer.isBuffer(e.key) && Buffer.isBuffer(e.value), 'key and value are Buffers').to.equal(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuse malformed requests as proto-loader does', () => {
    const outcomeOf = (decode: (b: Buffer) => unknown, bytes: Buffer): unknown => {
      try {
        return decode(bytes);
      } catch (err) {
        return `threw ${(err as Error).message}`;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const bytes = Buffer.from(raw);
        expect(outcomeOf(decodeCommitRequest, bytes)).to.deep.equal(
          outcomeOf(loader.CommitStream.requestDeserialize, bytes),
        );
      }),
      { numRuns: 2000 },
    );
    // A truncated event, by hand: field 1 says 10 bytes follow, 2 do.
    expect(() => decodeCommitRequest(Buffer.from([0x0a, 0x0a, 0x0a, 0x00]))).to.throw(RangeError, /index out of range/);
  });

  it('encode responses to the same bytes as proto-loader', () => {
    fc.assert(
      fc.property(fc.array(ack, { maxLength: 6 }), (acks) => {
        const ours = encodeAckResponse({ acks });
        const theirs = loader.CommitStream.responseSerialize({ acks });
        expect(ours.toString('hex')).to.equal(theirs.toString('hex'));
      }),
      { numRuns: 1000 },
    );
  });

  it('write the fields an ack has, zeros included, and none it lacks', () => {
    const delivered = encodeAckResponse({
      acks: [{ id: 'e1', outcome: 'OUTCOME_DELIVERED', topic: 't', partition: 0, offset: 300 }],
    });
    // acks(1, len 14){ id(1)="e1", outcome(2)=1, topic(3)="t", partition(4)=0, offset(5)=300 as varint ac 02 }
    expect(delivered.toString('hex')).to.equal('0a0e0a02653110011a0174200028ac02');
    // A SPILLED ack has no coordinates: nothing but id and outcome on the wire.
    expect(encodeAckResponse({ acks: [{ id: 'e2', outcome: 'OUTCOME_SPILLED' }] }).toString('hex')).to.equal(
      '0a060a0265321002',
    );
    expect(encodeAckResponse({ acks: [] })).to.have.length(0);
    expect(() => encodeAckResponse({ acks: [{ outcome: 'OUTCOME_LOST' as never }] })).to.throw(
      /unknown outcome OUTCOME_LOST/,
    );
  });

  it('replace only the server side of the two CommitLogService methods', () => {
    const service = withWireCodecs(loader);
    for (const name of ['Commit', 'CommitStream'] as const) {
      expect(service[name].requestDeserialize).to.equal(decodeCommitRequest);
      expect(service[name].responseSerialize).to.equal(encodeAckResponse);
      expect(service[name].requestSerialize).to.equal(loader[name].requestSerialize);
      expect(service[name].path).to.equal(loader[name].path);
    }
  });
});
