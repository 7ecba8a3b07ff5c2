import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/*
 * Node cannot set PR_SET_PDEATHSIG, so a child outlives a parent killed with SIGKILL.
 * This POSIX sh wrapper closes that gap: it forks a watcher holding the read end of a
 * pipe whose only writer is the Node parent, then execs the command, so the command
 * keeps the pid Node knows (SIGSTOP/SIGCONT reach it directly). The pipe reaches EOF when
 * the parent exits for any reason, or calls release(); the watcher then stops the
 * command (CONT so a paused one can act on TERM, TERM, KILL after ~10 s) and removes
 * the cleanup directory. Job-control-less sh points a background job's stdin at
 * /dev/null, hence the pipe travels on fd 3.
 *   $1: directory to delete once the command is gone ("" for none); $2...: command.
 */
const WATCHDOG_SCRIPT = `
cleanup=$1; shift
exec 3<&0
(
  cat <&3 >/dev/null 2>&1
  kill -CONT $$ 2>/dev/null
  kill -TERM $$ 2>/dev/null
  i=0
  while kill -0 $$ 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 40 ]; then kill -KILL $$ 2>/dev/null; fi
    sleep 0.25
  done
  if [ -n "$cleanup" ]; then rm -rf -- "$cleanup"; fi
) >/dev/null 2>&1 &
exec 3<&-
exec "$@" </dev/null
`;

/** How many output lines are kept for error messages. */
const RECENT_LINES = 40;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WatchedProcessOptions {
  cwd?: string;
  /** Removed by the watchdog once the command is gone, even if this process was killed. */
  cleanupDir?: string;
  onLine?: (line: string) => void;
}

export class WatchedProcess {
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #exited: Promise<ProcessExit>;
  readonly #recent: string[] = [];
  readonly #onLine?: (line: string) => void;
  #exit?: ProcessExit;
  // process.exit() runs no async code; signalling here is the most we can do, and the
  // watchdog notices the closed pipe a moment later and escalates to KILL if needed.
  readonly #onParentExit = (): void => {
    this.signal('SIGCONT');
    this.signal('SIGTERM');
  };

  constructor(command: string, args: readonly string[], options: WatchedProcessOptions = {}) {
    this.#onLine = options.onLine;
    this.#child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'sh', options.cleanupDir ?? '', command, ...args], {
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group: a terminal's Ctrl-C reaches only Node, which closes us in
      // order, instead of racing the JVM's own SIGINT shutdown and killing the watchdog.
      detached: true,
    });
    // The pipe is only a liveness signal; EPIPE after the watchdog exits is expected.
    this.#child.stdin.on('error', () => undefined);
    this.#readLines(this.#child.stdout);
    this.#readLines(this.#child.stderr);
    process.on('exit', this.#onParentExit);
    this.#child.on('exit', (code, signal) => {
      this.#exit = { code, signal };
      process.off('exit', this.#onParentExit);
      this.release();
    });
    // 'close' comes after 'exit' once stdout/stderr are drained, so recentOutput() is
    // complete by the time anyone awaits `exited`.
    this.#exited = new Promise((resolve) => {
      this.#child.on('close', (code, signal) => resolve(this.#exit ?? { code, signal }));
    });
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error('local-kafka: process did not spawn');
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  get exited(): Promise<ProcessExit> {
    return this.#exited;
  }

  /** The last lines the process printed, for error messages. */
  recentOutput(): string {
    return this.#recent.join('\n');
  }

  /** Sends `signal` if the process still runs; returns whether it was sent. */
  signal(signal: NodeJS.Signals): boolean {
    if (!this.running || this.#child.pid === undefined) return false;
    try {
      process.kill(this.#child.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** CONT, TERM, then KILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs: number): Promise<ProcessExit> {
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, graceMs, 'timeout')));
    const first = await Promise.race([this.#exited, grace]);
    clearTimeout(timer);
    if (first === 'timeout') this.signal('SIGKILL');
    return this.#exited;
  }

  /** Closes the watchdog pipe: the watchdog stops the command (if alive) and cleans up. */
  release(): void {
    if (!this.#child.stdin.destroyed) this.#child.stdin.destroy();
  }

  #readLines(stream: Readable): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#line(line);
    });
    stream.on('end', () => {
      if (partial) this.#line(partial);
    });
  }

  #line(line: string): void {
    this.#recent.push(line);
    if (this.#recent.length > RECENT_LINES) this.#recent.shift();
    this.#onLine?.(line);
  }
}
