import { rename } from 'node:fs/promises';
import path from 'node:path';
import { CURSOR_FILE, readCursor, type CursorLoad, type CursorWriter } from './cursor-file';
import { ensureDir, listSegments, nodeIo, syncDir, type Position } from './segment-files';
import type { OpenReport, SegmentLog } from './segment-log';

export interface OpenedSpill {
  readonly report: OpenReport;
  readonly cursor: Position | undefined;
  /** Records at or after the cursor: the backlog. */
  readonly events: number;
  readonly bytes: number;
  readonly firstReceivedAt: number | undefined;
}

interface Count {
  events: number;
  bytes: number;
  first: number | undefined;
}

/**
 * Opens the segment log from the durable cursor and counts the backlog in the
 * same scan. A cursor that no longer fits the recovered segments is fixed
 * towards replaying more, never less: past a cut tail it moves back to the
 * new end; off a record boundary it moves to the segment's start (those
 * records may be replayed twice: at-least-once). An unreadable cursor file,
 * or one naming a segment after every segment there is,
 * is quarantined and replay starts at the first record.
 */
export async function openCursor(log: SegmentLog, writer: CursorWriter): Promise<OpenedSpill> {
  const loaded = checked(await readCursor(log.dir), await listSegments(log.dir));
  let cursor = loaded.kind === 'cursor' ? loaded.position : undefined;
  const after: Count = { events: 0, bytes: 0, first: undefined };
  const before: Count = { events: 0, bytes: 0, first: undefined };
  let onBoundary = false;
  const opened = await log.open({
    discardBefore: cursor?.segment,
    visit: (segment, offset, frameBytes, record) => {
      const count = cursor !== undefined && segment === cursor.segment && offset < cursor.offset ? before : after;
      if (cursor !== undefined && segment === cursor.segment && offset === cursor.offset) onBoundary = true;
      if (record === undefined) return;
      count.events++;
      count.bytes += frameBytes;
      count.first ??= record.receivedAt;
    },
  });
  const damage = [...opened.damage];
  const quarantined = [...opened.quarantined];
  if (loaded.kind === 'invalid') {
    quarantined.push(await quarantineCursor(log.dir));
    damage.push(`${CURSOR_FILE}: ${loaded.message}; replaying from the first record`);
  }
  const segment = cursor === undefined ? undefined : log.segment(cursor.segment);
  if (cursor !== undefined && segment !== undefined && cursor.offset !== segment.size && !onBoundary) {
    const fixed = { segment: segment.name, offset: cursor.offset > segment.size ? segment.size : 0 };
    damage.push(`${CURSOR_FILE}: ${cursor.segment}@${cursor.offset} is not a record boundary; now @${fixed.offset}`);
    if (fixed.offset === 0) {
      after.events += before.events;
      after.bytes += before.bytes;
      after.first = before.first ?? after.first;
    }
    cursor = fixed;
    const saved = await writer.save(cursor);
    if (!saved.ok) throw new Error(saved.message);
  }
  return {
    report: { ...opened, damage, quarantined },
    cursor,
    events: after.events,
    bytes: after.bytes,
    firstReceivedAt: after.first,
  };
}

/**
 * A cursor past every segment cannot be this log's (the segment appends go to
 * is never deleted), and trusting it would discard them all: it is invalid.
 */
function checked(loaded: CursorLoad, segments: readonly string[]): CursorLoad {
  const last = segments.at(-1);
  if (loaded.kind !== 'cursor' || last === undefined || loaded.position.segment <= last) return loaded;
  return { kind: 'invalid', message: `names ${loaded.position.segment}, after the last segment ${last}` };
}

async function quarantineCursor(dir: string): Promise<string> {
  const quarantine = path.join(dir, 'quarantine');
  await ensureDir(quarantine, nodeIo);
  const target = path.join(quarantine, `${CURSOR_FILE}.${Date.now()}.invalid`);
  await rename(path.join(dir, CURSOR_FILE), target);
  await syncDir(quarantine);
  await syncDir(dir);
  return target;
}
