import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The repository root (bench/ sits in it). */
export const ROOT = path.resolve(__dirname, '..');

/**
 * Forks a bench module (TypeScript, run through tsx like the runner itself)
 * with an IPC channel. Such a child exits when the channel closes, so it never
 * outlives the runner, even one that was killed. stdout and stderr reach the
 * runner's stderr, prefixed, so --json output on stdout stays clean.
 */
export function forkBench(module: string, name: string): ChildProcess {
  const child = fork(path.join(ROOT, 'bench', module), [], {
    cwd: ROOT,
    execArgv: ['--require', require.resolve('tsx/cjs')],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line !== '') process.stderr.write(`[${name}] ${line}\n`);
    });
  }
  return child;
}

/** Resolves once the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Closes the IPC channel (the child exits by itself), and kills it if it has not after `graceMs`. */
export async function closeChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.connected) child.disconnect();
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
