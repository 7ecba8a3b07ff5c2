import { open } from 'node:fs/promises';
import path from 'node:path';
import { paddingFrame } from './frame';
import { ensureDir, type SpillIo } from './segment-files';
import { scanSegment, type Damage, type FrameVisitor, type SegmentScan } from './segment-scan';

/** What open() found and did; the gateway logs it at start. */
export interface OpenReport {
  readonly segments: number;
  readonly records: number;
  /** Bytes cut from segment tails (a torn last write, or everything after unframeable damage). */
  readonly truncatedBytes: number;
  /** Quarantine files written: copies of every byte recovery cut or padded over. */
  readonly quarantined: readonly string[];
  /** One line per damaged range found. */
  readonly damage: readonly string[];
}

/** A segment as recovery left it. */
export interface RecoveredSegment {
  readonly name: string;
  readonly size: number;
  readonly records: number;
  readonly firstReceivedAt: number | undefined;
  readonly lastReceivedAt: number | undefined;
}

/**
 * Scans every segment (in order, so `visit` sees frames in append order),
 * refuses, changing nothing, if any holds a record of a newer format, then
 * repairs each damaged one (quarantine first; see repairSegment).
 */
export async function recoverSegments(
  dir: string,
  names: readonly string[],
  io: SpillIo,
  visit?: (segment: string, ...frame: Parameters<FrameVisitor>) => void,
): Promise<{ segments: RecoveredSegment[]; report: OpenReport }> {
  const scans = [];
  for (const name of names)
    scans.push({ name, scan: await scanSegment(path.join(dir, name), (...frame) => visit?.(name, ...frame)) });
  const unreadable = scans.flatMap(({ name, scan }) =>
    scan.damage.filter((d) => d.repair === 'none').map((d) => `${name} at ${d.offset}: ${d.message}`),
  );
  if (unreadable.length > 0)
    throw new Error(`spill log ${dir} holds records this build cannot read: ${unreadable.join('; ')}`);
  const segments: RecoveredSegment[] = [];
  const report = { segments: names.length, records: 0, truncatedBytes: 0, quarantined: [] as string[] };
  const damage: string[] = [];
  for (const { name, scan } of scans) {
    const repair = await repairSegment(path.join(dir, name), path.join(dir, 'quarantine'), scan, io);
    report.records += scan.records;
    report.truncatedBytes += repair.truncatedBytes;
    report.quarantined.push(...repair.quarantined);
    damage.push(...repair.messages);
    const { records, firstReceivedAt, lastReceivedAt } = scan;
    segments.push({ name, size: repair.size, records, firstReceivedAt, lastReceivedAt });
  }
  return { segments, report: { ...report, damage } };
}

export interface SegmentRepair {
  /** Size of the segment after repair. */
  readonly size: number;
  readonly truncatedBytes: number;
  /** Paths of the quarantine files written. */
  readonly quarantined: readonly string[];
  /** One line per damaged range, for the start-up log. */
  readonly messages: readonly string[];
}

/** `<segment>.at-<offset>.<kind>.bin`: which segment, where, and what was wrong. */
export function quarantineName(segment: string, damage: Damage): string {
  return `${segment}.at-${damage.offset}.${damage.kind}.bin`;
}

/**
 * Applies what scanSegment found: every damaged range is first copied into
 * `quarantineDir` and fsync'd, and only then padded or cut, so no byte is
 * destroyed before a copy of it is durable. Valid records are never moved.
 */
export async function repairSegment(
  file: string,
  quarantineDir: string,
  scan: SegmentScan,
  io: SpillIo,
): Promise<SegmentRepair> {
  const segment = path.basename(file);
  const todo = scan.damage.filter((d) => d.repair !== 'none');
  if (todo.length === 0) return { size: scan.size, truncatedBytes: 0, quarantined: [], messages: [] };
  await ensureDir(quarantineDir, io);
  const handle = await open(file, 'r+');
  const quarantined: string[] = [];
  const messages: string[] = [];
  let size = scan.size;
  try {
    for (const damage of todo) {
      const bytes = Buffer.alloc(damage.end - damage.offset);
      await handle.read(bytes, 0, bytes.length, damage.offset);
      const copy = path.join(quarantineDir, quarantineName(segment, damage));
      await writeDurably(copy, bytes);
      // The copy's directory entry must be durable before the original bytes go.
      await io.syncDir(quarantineDir);
      quarantined.push(copy);
      if (damage.repair === 'pad') {
        await handle.write(paddingFrame(bytes.length), 0, bytes.length, damage.offset);
        messages.push(`${segment} at ${damage.offset}: ${damage.message}; ${bytes.length} bytes padded over`);
      } else {
        await handle.truncate(damage.offset);
        size = damage.offset;
        messages.push(`${segment} at ${damage.offset}: ${damage.message}; ${bytes.length} bytes cut`);
      }
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return { size, truncatedBytes: scan.size - size, quarantined, messages };
}

async function writeDurably(file: string, bytes: Buffer): Promise<void> {
  // 'w': a repeated recovery of the same range (a crash mid-repair) rewrites the same copy.
  const handle = await open(file, 'w');
  try {
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
