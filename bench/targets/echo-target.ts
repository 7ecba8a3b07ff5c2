import type { ChildProcess } from 'node:child_process';
import { closeChild, forkBench } from '../child';
import type { Target } from './target';

type EchoMessage = { type: 'ready'; address: string } | { type: 'failed'; message: string };

/** The echo server (echo-server.ts) in its own process, so its CPU and memory are its own. */
export class EchoTarget implements Target {
  readonly name = 'echo server';
  readonly #child: ChildProcess;
  readonly address: string;

  private constructor(child: ChildProcess, address: string) {
    this.#child = child;
    this.address = address;
  }

  static async start(): Promise<EchoTarget> {
    const child = forkBench('targets/echo-server.ts', 'echo');
    const message = await new Promise<EchoMessage>((resolve) => {
      child.once('message', (m: EchoMessage) => resolve(m));
      child.once('exit', (code) => resolve({ type: 'failed', message: `exited with code ${code}` }));
    });
    if (message.type !== 'ready') {
      await closeChild(child);
      throw new Error(`echo server: ${message.message}`);
    }
    return new EchoTarget(child, message.address);
  }

  get pid(): number {
    return this.#child.pid!;
  }

  async close(): Promise<void> {
    await closeChild(this.#child);
  }
}
