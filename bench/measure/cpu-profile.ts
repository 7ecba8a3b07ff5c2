import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The parts of a V8 .cpuprofile (node --cpu-prof) read here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  /** Function name, "(anonymous)" when it has none. */
  name: string;
  /** file:line, shortened to the package (or dist/ path) it belongs to. */
  where: string;
  selfMs: number;
  /** % of the non-idle samples. */
  selfPct: number;
}

export interface ProfileSummary {
  file: string;
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  top: ProfileEntry[];
  /** Self time grouped by package or area (grpc-js, protobufjs, commitlog, GC, ...), % of busy. */
  byArea: { area: string; selfPct: number }[];
}

/**
 * Self time per function of a V8 CPU profile: each sample is charged to the
 * frame on top of the stack when it was taken, for the time until the next
 * sample. Functions are merged by name and location; "(idle)" is left out.
 */
export async function summariseProfile(file: string, topN = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  const areaUs = new Map<string, number>();
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = frames.get(profile.samples[i]);
    // timeDeltas[i] is the time before sample i; charge the interval that follows it.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (frame === undefined || frame.functionName === '(idle)') continue;
    busyUs += us;
    const where = frame.url === '' ? '' : `${shorten(frame.url)}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName}@${where}`;
    const entry = selfUs.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
    const area = areaOf(frame.functionName, frame.url);
    areaUs.set(area, (areaUs.get(area) ?? 0) + us);
  }
  const pct = (us: number): number => (busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0);
  return {
    file,
    busyMs: Math.round(busyUs / 1000),
    top: [...selfUs.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ name: e.name, where: e.where, selfMs: Math.round(e.us / 1000), selfPct: pct(e.us) })),
    byArea: [...areaUs.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfPct: pct(us) })),
  };
}

/** node_modules/<pkg>/... → <pkg>/...; the repository's own files relative to it. */
function shorten(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  const at = file.lastIndexOf('node_modules/');
  if (at >= 0) return file.slice(at + 'node_modules/'.length);
  const dist = file.lastIndexOf('/dist/');
  if (dist >= 0) return file.slice(dist + 1);
  return file.startsWith('/') ? path.basename(file) : file;
}

function areaOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return '(program: native, not JS)';
  if (url === '') return 'native/builtins';
  if (url.startsWith('node:')) return 'node core';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1];
  if (url.includes('/dist/')) return 'commitlog (dist/)';
  return 'other';
}
