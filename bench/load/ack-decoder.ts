/**
 * Reads acks straight from the wire bytes of a CommitResponse or
 * CommitStreamResponse (both are `repeated Ack acks = 1`), without building
 * message objects: the generator must stay cheaper than the server it loads.
 * Per Ack only `id` (field 1) and `outcome` (field 2) are read; the id's last
 * SEQ_DIGITS characters are the event's sequence number (see RequestTemplate).
 */

export const SEQ_DIGITS = 10;

/** Called per ack with the sequence number parsed from its id (-1 when it has none) and its Outcome number. */
export type AckVisitor = (seq: number, outcome: number) => void;

/** Visits every ack of one response; returns how many there were. */
export function forEachAck(buf: Buffer, visit: AckVisitor): number {
  const reader = new WireReader(buf);
  let count = 0;
  while (reader.pos < buf.length) {
    const tag = reader.varint();
    if (tag === 0x0a) {
      const end = reader.varint() + reader.pos;
      readAck(reader, end, visit);
      reader.pos = end;
      count++;
    } else {
      reader.skip(tag & 7);
    }
  }
  return count;
}

function readAck(reader: WireReader, end: number, visit: AckVisitor): void {
  let seq = -1;
  let outcome = 0;
  while (reader.pos < end) {
    const tag = reader.varint();
    if (tag === 0x0a) {
      const length = reader.varint();
      seq = length >= SEQ_DIGITS ? reader.digits(reader.pos + length - SEQ_DIGITS) : -1;
      reader.pos += length;
    } else if (tag === 0x10) {
      outcome = reader.varint();
    } else {
      reader.skip(tag & 7);
    }
  }
  visit(seq, outcome);
}

/** A cursor over protobuf wire bytes. */
class WireReader {
  pos = 0;
  readonly #buf: Buffer;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  /** A varint as a number; past 2^53 (int64 offsets) precision is lost, which is fine for skipping. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.#buf[this.pos++];
      if (byte === undefined) throw new Error('ack decoder: truncated varint');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  }

  /** SEQ_DIGITS ASCII digits at `at` as a number; -1 if any is not a digit. */
  digits(at: number): number {
    let value = 0;
    for (let i = at; i < at + SEQ_DIGITS; i++) {
      const digit = this.#buf[i] - 48;
      if (!(digit >= 0 && digit <= 9)) return -1;
      value = value * 10 + digit;
    }
    return value;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2: {
        // Not `this.pos += this.varint()`: that reads pos before varint() moves it.
        const length = this.varint();
        this.pos += length;
        return;
      }
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`ack decoder: unsupported wire type ${wireType}`);
    }
  }
}
