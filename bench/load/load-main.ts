/**
 * A load generator process (forked by LoadProcess, run through tsx). It does
 * nothing but drive its target, so the runner can read its CPU from /proc
 * apart from everything else. Exits when the runner disconnects.
 */
import { AckRecorder } from './ack-recorder';
import { DirectLoad } from './direct-load';
import type { LoadDriver } from './load-driver';
import type { FromLoad, LoadPlan, ToLoad } from './protocol';
import { StreamLoad } from './stream-load';
import { UnaryLoad } from './unary-load';

function send(message: FromLoad): void {
  process.send?.(message);
}

function driverFor(plan: LoadPlan, recorder: AckRecorder): LoadDriver {
  switch (plan.kind) {
    case 'stream':
      return new StreamLoad(plan, recorder);
    case 'unary':
      return new UnaryLoad(plan, recorder);
    case 'direct':
      return new DirectLoad(plan, recorder);
  }
}

function main(): void {
  const recorder = new AckRecorder();
  let driver: LoadDriver | undefined;
  process.on('disconnect', () => {
    void Promise.resolve(driver?.close()).finally(() => process.exit(0));
  });
  process.on('message', (message: ToLoad) => {
    switch (message.type) {
      case 'start':
        try {
          driver = driverFor(message.plan, recorder);
        } catch (err) {
          send({ type: 'failed', message: (err as Error).message });
          return;
        }
        driver.ready().then(
          () => {
            send({ type: 'ready' });
            driver?.run();
          },
          (err: Error) => send({ type: 'failed', message: err.message }),
        );
        return;
      case 'measure':
        recorder.start();
        return;
      case 'stop':
        recorder.stop();
        driver?.stop();
        send({ type: 'result', result: recorder.result() });
        return;
    }
  });
}

main();
