import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * CPU time and peak memory of processes, read from Linux's /proc: the only
 * way to measure a process from outside without changing what it runs.
 *   /proc/<pid>/stat                  utime + stime (fields 14, 15), in clock ticks
 *   /proc/<pid>/task/<pid>/stat       the same for the main thread only (its tid is the pid):
 *                                     a Node process's JavaScript runs there, librdkafka and libuv elsewhere
 *   /proc/<pid>/status VmHWM          peak resident set size
 *   /proc/<pid>/clear_refs "5"        resets VmHWM (Linux ≥ 4.0), so the peak is that of the measured window
 *   /proc/stat "cpu" line             the whole box, to tell when its cores were all busy
 */

const CLOCK_TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

/** utime + stime in seconds; undefined once the process is gone. */
function cpuSeconds(statFile: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(statFile, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** The processes whose parent is `pid` (the gateway's producer workers), from /proc/<n>/stat field 4. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Peak RSS in MiB (VmHWM); undefined once the process is gone. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a new peak-RSS period; false where the kernel does not allow it (VmHWM then covers the whole life). */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

interface BoxTicks {
  busy: number;
  total: number;
}

function boxTicks(): BoxTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const total = values.slice(0, 8).reduce((sum, v) => sum + v, 0);
  return { busy: total - values[3] - values[4], total };
}

/** CPU use of one process over a window, in % of one core. */
export interface ProcessCpu {
  /** All threads. */
  cpu: number;
  /** The main thread (the JavaScript event loop of a Node process). */
  mainCpu: number;
}

/** CPU use of some processes and of the whole box between start and finish. */
export class CpuWindow {
  readonly #pids: readonly number[];
  readonly #startedAt: number;
  readonly #start = new Map<number, { all: number; main: number }>();
  readonly #box: BoxTicks;

  constructor(pids: readonly number[]) {
    this.#pids = pids;
    this.#startedAt = performance.now();
    for (const pid of pids) this.#start.set(pid, sample(pid));
    this.#box = boxTicks();
  }

  /** Per pid (missing when the process ended meanwhile), and the box's busy share in % of all its cores. */
  finish(): { processes: Map<number, ProcessCpu>; boxBusy: number } {
    const seconds = (performance.now() - this.#startedAt) / 1000;
    const processes = new Map<number, ProcessCpu>();
    for (const pid of this.#pids) {
      const before = this.#start.get(pid)!;
      const after = sample(pid);
      if (Number.isNaN(after.all) || Number.isNaN(before.all)) continue;
      processes.set(pid, {
        cpu: round1(((after.all - before.all) / seconds) * 100),
        mainCpu: round1(((after.main - before.main) / seconds) * 100),
      });
    }
    const box = boxTicks();
    const total = box.total - this.#box.total;
    return { processes, boxBusy: total > 0 ? round1(((box.busy - this.#box.busy) / total) * 100) : 0 };
  }
}

function sample(pid: number): { all: number; main: number } {
  return {
    all: cpuSeconds(`/proc/${pid}/stat`) ?? NaN,
    main: cpuSeconds(`/proc/${pid}/task/${pid}/stat`) ?? NaN,
  };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
