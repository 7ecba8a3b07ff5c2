import { open } from 'node:fs/promises';
import { ChunkReader } from './chunk-reader';
import { readFrameAt, type FrameRead } from './frame';
import { decodeSpillPayload, type SpillRecord } from './spill-record';

/**
 * What recovery does about a damaged range (docs/spill-format.md, "Recovery"):
 * - `cut`: quarantine [offset, end of file) and truncate the segment at `offset`;
 * - `pad`: quarantine this one frame and overwrite it in place with a padding
 *   frame of the same length, so every later offset stays valid;
 * - `none`: leave it (a record from a newer format version is not damage).
 */
export type Repair = 'cut' | 'pad' | 'none';

export type DamageKind = 'incomplete' | 'bad-length' | 'bad-crc' | 'bad-payload' | 'unsupported-version';

export interface Damage {
  readonly offset: number;
  /** Exclusive; for `cut` the size of the file. */
  readonly end: number;
  readonly kind: DamageKind;
  readonly repair: Repair;
  readonly message: string;
}

export interface SegmentScan {
  /** File size as found. */
  readonly size: number;
  readonly records: number;
  readonly paddingFrames: number;
  readonly damage: readonly Damage[];
  readonly firstReceivedAt: number | undefined;
  readonly lastReceivedAt: number | undefined;
}

/** Called for every valid frame in order; `record` is undefined for a padding frame. */
export type FrameVisitor = (offset: number, frameBytes: number, record: SpillRecord | undefined) => void;

/**
 * Walks every frame of a segment and checks its CRC and payload, changing
 * nothing. The rule for damage (the same for `verify` and recovery):
 * - a torn tail (incomplete header or record, or a zero/implausible length,
 *   as a crash mid-write or a zero-filled tail leaves) ends the segment: cut;
 * - a CRC mismatch in a frame whose end is followed by a valid frame is one
 *   damaged record: pad it and go on; otherwise the length itself is suspect
 *   and nothing after it can be framed: cut;
 * - a CRC-valid payload that does not decode is one bad record: pad.
 */
export async function scanSegment(file: string, visit: FrameVisitor = () => undefined): Promise<SegmentScan> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const reader = new ChunkReader(handle);
    const damage: Damage[] = [];
    let records = 0;
    let paddingFrames = 0;
    let firstReceivedAt: number | undefined;
    let lastReceivedAt: number | undefined;
    let offset = 0;
    while (offset < size) {
      const frame = await readFrameAt(reader, offset, size);
      if (frame.kind !== 'frame') {
        const next = frame.kind === 'bad-crc' ? await validFrameAfter(reader, frame, size) : false;
        if (frame.kind === 'bad-crc' && next) {
          damage.push({ offset, end: frame.end, kind: 'bad-crc', repair: 'pad', message: frame.message });
          offset = frame.end;
          continue;
        }
        const why = frame.kind === 'bad-crc' ? `${frame.message}, and no valid record follows it` : frame.message;
        damage.push({ offset, end: size, kind: frame.kind, repair: 'cut', message: why });
        break;
      }
      const decoded = decodeSpillPayload(frame.payload);
      const frameBytes = frame.end - offset;
      if (decoded.kind === 'record') {
        records++;
        firstReceivedAt ??= decoded.record.receivedAt;
        lastReceivedAt = decoded.record.receivedAt;
        visit(offset, frameBytes, decoded.record);
      } else if (decoded.kind === 'padding') {
        paddingFrames++;
        visit(offset, frameBytes, undefined);
      } else {
        const kind = decoded.kind === 'unsupported' ? 'unsupported-version' : 'bad-payload';
        const repair = decoded.kind === 'unsupported' ? 'none' : 'pad';
        damage.push({ offset, end: frame.end, kind, repair, message: decoded.message });
      }
      offset = frame.end;
    }
    return { size, records, paddingFrames, damage, firstReceivedAt, lastReceivedAt };
  } finally {
    await handle.close();
  }
}

async function validFrameAfter(
  reader: ChunkReader,
  bad: FrameRead & { kind: 'bad-crc' },
  size: number,
): Promise<boolean> {
  if (bad.end >= size) return false;
  return (await readFrameAt(reader, bad.end, size)).kind === 'frame';
}
