import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Where the CPU quota of the process's cgroup is read; tests point these at fixtures. */
export interface CgroupCpuFiles {
  /** cgroup v2: "<quota> <period>" in µs, or "max <period>" for no limit. */
  readonly v2Max: string;
  /** cgroup v1: the quota in µs per period, -1 for no limit. */
  readonly v1Quota: string;
  readonly v1Period: string;
}

/**
 * The files as a container sees its own cgroup at /sys/fs/cgroup (cgroup
 * namespaces: Docker and Kubernetes on cgroup v2; v1 mounts the cpu
 * controller at /sys/fs/cgroup/cpu).
 */
export const CGROUP_CPU_FILES: CgroupCpuFiles = {
  v2Max: '/sys/fs/cgroup/cpu.max',
  v1Quota: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
  v1Period: '/sys/fs/cgroup/cpu/cpu.cfs_period_us',
};

/**
 * CPUs the cgroup's CFS quota allows, rounded up (a 1.5-CPU limit is 2), or
 * undefined when there is no limit or it cannot be read. cgroup v2 decides
 * when its file exists; v1 is read only without it.
 */
export function cgroupCpuLimit(files: CgroupCpuFiles = CGROUP_CPU_FILES): number | undefined {
  const v2 = read(files.v2Max);
  if (v2 !== undefined) {
    const [quota, period] = v2.split(/\s+/);
    return quota === 'max' ? undefined : cpus(quota, period);
  }
  const quota = read(files.v1Quota);
  // -1: no limit. Any other negative or malformed value: unknown, so no limit either.
  return quota === undefined || quota === '-1' ? undefined : cpus(quota, read(files.v1Period));
}

/**
 * What `workers: "auto"` becomes: one per core Node may run on
 * (availableParallelism(): the CPU affinity mask), but no more than the
 * cgroup's CPU quota allows, and at least 1. libuv before 1.49 (Node 20)
 * ignores the quota, so a pod limited to 1 CPU on a 32-core node would
 * otherwise start 32 workers.
 */
export function autoWorkers(files: CgroupCpuFiles = CGROUP_CPU_FILES, cores = availableParallelism()): number {
  const limit = cgroupCpuLimit(files);
  return Math.max(1, limit === undefined ? cores : Math.min(cores, limit));
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function cpus(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? Math.ceil(q / p) : undefined;
}
