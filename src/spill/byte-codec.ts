/**
 * Little-endian primitives for the spill payload: fixed-width numbers and
 * unsigned LEB128 varints for lengths and counts (one byte for anything under
 * 128, which is most ids, topics, keys and header names).
 */

/** Bytes an unsigned LEB128 varint of `value` takes. */
export function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    bytes++;
  }
  return bytes;
}

/** Writes into a buffer sized up front (see varintBytes); never grows it. */
export class ByteWriter {
  readonly #buf: Buffer;
  #pos: number;

  constructor(buf: Buffer, start: number) {
    this.#buf = buf;
    this.#pos = start;
  }

  get position(): number {
    return this.#pos;
  }

  u8(value: number): void {
    this.#pos = this.#buf.writeUInt8(value, this.#pos);
  }

  f64(value: number): void {
    this.#pos = this.#buf.writeDoubleLE(value, this.#pos);
  }

  varint(value: number): void {
    while (value >= 0x80) {
      this.#buf[this.#pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.#buf[this.#pos++] = value;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
  }

  /**
   * A string of under 128 UTF-8 bytes (at most 42 UTF-16 units): one length
   * byte, written after the string. ASCII (ids, topics, header names) is copied
   * char by char: Buffer#write's argument handling cost more than the copy.
   */
  shortUtf8(value: string): void {
    const buf = this.#buf;
    const start = this.#pos + 1;
    let at = start;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        at = start + buf.write(value, start, 'utf8');
        break;
      }
      buf[at++] = c;
    }
    buf[this.#pos] = at - start;
    this.#pos = at;
  }

  /** `byteLength` must be Buffer.byteLength(value): the caller has it from sizing. */
  utf8(value: string, byteLength: number): void {
    this.varint(byteLength);
    this.#pos += this.#buf.write(value, this.#pos, byteLength, 'utf8');
  }
}

/** Thrown inside a decoder only; decodeSpillPayload turns it into a result. */
export class Truncated extends Error {}

export class ByteReader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  u8(what: string): number {
    this.#need(1, what);
    return this.#buf[this.#pos++];
  }

  f64(what: string): number {
    this.#need(8, what);
    const value = this.#buf.readDoubleLE(this.#pos);
    this.#pos += 8;
    return value;
  }

  varint(what: string): number {
    let value = 0;
    let scale = 1;
    // 5 bytes carry 35 bits: more than any length a payload of at most 2^31 bytes holds.
    for (let i = 0; i < 5; i++) {
      const byte = this.u8(what);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new Truncated(`${what}: varint longer than 5 bytes at byte ${this.#pos - 5}`);
  }

  /** A copy, so the record outlives the read buffer it came from. */
  bytes(what: string): Buffer {
    const length = this.varint(`${what} length`);
    this.#need(length, what);
    const value = Buffer.from(this.#buf.subarray(this.#pos, this.#pos + length));
    this.#pos += length;
    return value;
  }

  utf8(what: string): string {
    const length = this.varint(`${what} length`);
    this.#need(length, what);
    const value = this.#buf.toString('utf8', this.#pos, this.#pos + length);
    this.#pos += length;
    return value;
  }

  #need(bytes: number, what: string): void {
    if (this.#pos + bytes > this.#buf.length)
      throw new Truncated(
        `${what}: needs ${bytes} bytes at byte ${this.#pos}, payload has ${this.#buf.length - this.#pos} left`,
      );
  }
}
