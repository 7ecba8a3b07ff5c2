import { expect } from 'chai';
import { CallDrainer, type DrainParticipant } from '../../src/server/call-drainer';

/** A participant whose drain() resolves when the test says so. */
function participant(): DrainParticipant & { calls: number; finish(): void } {
  let finish = (): void => undefined;
  const p = {
    calls: 0,
    finish: () => finish(),
    drain: () => {
      p.calls++;
      return new Promise<void>((resolve) => (finish = resolve));
    },
  };
  return p;
}

describe('CallDrainer registry', () => {
  it('tells each registered participant once when draining starts, and at once when it registers later', async () => {
    const drainer = new CallDrainer({ counted: new Map(), exempt: [] });
    const early = participant();
    const gone = participant();
    drainer.register(early);
    drainer.register(gone)();
    expect(drainer.draining).to.equal(false);

    drainer.drain();
    drainer.drain();
    const late = participant();
    drainer.register(late);
    expect([early.calls, gone.calls, late.calls, drainer.draining]).to.deep.equal([1, 0, 1, true]);

    // Idle only once every participant has drained; a deadline ends the wait otherwise.
    expect(await drainer.whenIdle(Date.now() + 50)).to.equal(false);
    early.finish();
    late.finish();
    expect(await drainer.whenIdle(Date.now() + 5_000)).to.equal(true);
    expect(drainer.busy).to.equal(0);
  });
});
