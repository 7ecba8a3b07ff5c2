import { crc32c } from '@node-rs/crc32';
import type { ChunkReader } from './chunk-reader';
import { encodeSpillPayload, PADDING_VERSION, type SpillRecord } from './spill-record';

/** u32 LE payload length, then u32 LE CRC-32C (Castagnoli) of the payload. */
export const FRAME_HEADER_BYTES = 8;
/**
 * Larger than any record the config limits let through (1 GiB value + 16 MiB
 * key + 16 MiB metadata + id), below 2^31: a length field past it is damage.
 */
export const MAX_PAYLOAD_BYTES = 1100 * 1024 * 1024;

/** A record framed for disk: header and payload in one buffer, ready for writev. */
export function encodeFrame(record: SpillRecord): Buffer {
  const frame = encodeSpillPayload(record, FRAME_HEADER_BYTES);
  writeHeader(frame);
  return frame;
}

/** A valid frame of exactly `frameBytes` whose payload says "skip me" (see PADDING_VERSION). */
export function paddingFrame(frameBytes: number): Buffer {
  const frame = Buffer.alloc(frameBytes);
  frame[FRAME_HEADER_BYTES] = PADDING_VERSION;
  writeHeader(frame);
  return frame;
}

function writeHeader(frame: Buffer): void {
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32c(payload), 4);
}

export type FrameRead =
  | { readonly kind: 'frame'; readonly offset: number; readonly end: number; readonly payload: Buffer }
  /** Fewer bytes left before `limit` than the header or its length asks for. */
  | { readonly kind: 'incomplete'; readonly offset: number; readonly message: string }
  /** A length of 0 (a payload has at least its version byte) or past MAX_PAYLOAD_BYTES. */
  | { readonly kind: 'bad-length'; readonly offset: number; readonly message: string }
  | { readonly kind: 'bad-crc'; readonly offset: number; readonly end: number; readonly message: string };

/** Reads and checks the frame at `offset`; `limit` is where the readable bytes end. */
export async function readFrameAt(source: ChunkReader, offset: number, limit: number): Promise<FrameRead> {
  const left = limit - offset;
  const header = left >= FRAME_HEADER_BYTES ? await source.read(offset, FRAME_HEADER_BYTES, limit) : undefined;
  if (header === undefined || header.length < FRAME_HEADER_BYTES)
    return { kind: 'incomplete', offset, message: `incomplete frame header: ${left} of 8 bytes` };
  const length = header.readUInt32LE(0);
  if (length === 0 || length > MAX_PAYLOAD_BYTES)
    return { kind: 'bad-length', offset, message: `implausible payload length ${length}` };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > limit)
    return { kind: 'incomplete', offset, message: `incomplete record: needs ${end - offset} bytes, ${left} left` };
  const frame = await source.read(offset, FRAME_HEADER_BYTES + length, limit);
  if (frame.length < FRAME_HEADER_BYTES + length)
    return {
      kind: 'incomplete',
      offset,
      message: `file ended ${FRAME_HEADER_BYTES + length - frame.length} bytes early`,
    };
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  const expected = frame.readUInt32LE(4);
  const actual = crc32c(payload);
  if (actual !== expected)
    return {
      kind: 'bad-crc',
      offset,
      end,
      message: `CRC-32C mismatch: header says ${hex(expected)}, payload has ${hex(actual)}`,
    };
  return { kind: 'frame', offset, end, payload };
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
