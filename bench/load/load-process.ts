import type { ChildProcess } from 'node:child_process';
import { closeChild, forkBench } from '../child';
import type { FromLoad, LoadPlan, LoadResult, ToLoad } from './protocol';

const READY_TIMEOUT_MS = 60_000;

/** The runner's handle on one load generator process (bench/load/load-main.ts). */
export class LoadProcess {
  readonly #child: ChildProcess;
  readonly #messages: FromLoad[] = [];
  #waiting: ((message: FromLoad) => void) | undefined;
  #exitedEarly: string | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (message: FromLoad) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(message);
      else this.#messages.push(message);
    });
    child.on('exit', (code, signal) => {
      this.#exitedEarly = `load process exited (${signal ?? `code ${code}`})`;
      this.#waiting?.({ type: 'failed', message: this.#exitedEarly });
    });
  }

  /** Forks a generator, hands it the plan and resolves once it is connected and sending. */
  static async start(plan: LoadPlan, name: string): Promise<LoadProcess> {
    const load = new LoadProcess(forkBench('load/load-main.ts', name));
    load.#send({ type: 'start', plan });
    const reply = await load.#next(READY_TIMEOUT_MS);
    if (reply.type !== 'ready') {
      await load.close();
      throw new Error(`${name}: ${reply.type === 'failed' ? reply.message : `unexpected ${reply.type}`}`);
    }
    return load;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** The warm-up is over: count from now. */
  measure(): void {
    this.#send({ type: 'measure' });
  }

  /** Ends the measured window and the sending; resolves with what was measured. */
  async stop(): Promise<LoadResult> {
    this.#send({ type: 'stop' });
    const reply = await this.#next(30_000);
    if (reply.type !== 'result') throw new Error(reply.type === 'failed' ? reply.message : `unexpected ${reply.type}`);
    return reply.result;
  }

  close(): Promise<void> {
    return closeChild(this.#child);
  }

  #send(message: ToLoad): void {
    if (this.#child.connected) this.#child.send(message);
  }

  #next(timeoutMs: number): Promise<FromLoad> {
    const queued = this.#messages.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#exitedEarly !== undefined) return Promise.resolve({ type: 'failed', message: this.#exitedEarly });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        resolve({ type: 'failed', message: `no answer from the load process in ${timeoutMs} ms` });
      }, timeoutMs);
      this.#waiting = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }
}
