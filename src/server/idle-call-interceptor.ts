import { ServerInterceptingCall, status as Status, type ServerInterceptor } from '@grpc/grpc-js';
import type { WorkCounter } from './tracked-call';

export interface IdleCallOptions {
  /** How long a call may go without a message either way while it owes the client nothing. */
  readonly idleMs: number;
  /** Methods (by path) whose calls carry events, and how to count them; their acks are owed. */
  readonly counted: ReadonlyMap<string, WorkCounter>;
  /** Services (full names) never cut, e.g. health Watch streams that are idle by design. */
  readonly exempt: readonly string[];
}

/**
 * Ends calls that hold a stream open and do nothing (slow-loris): a call that
 * has not sent its first message after `idleMs`, and a counted stream that has
 * neither sent a request nor been sent an ack for `idleMs` while every event it
 * sent has its ack. A stream waiting for acks is never cut: its events are the
 * gateway's to settle, and the client would have to resend them.
 * The status is UNAVAILABLE, which clients (and the SDK) retry on a new stream.
 */
export function idleCallInterceptor(options: IdleCallOptions): ServerInterceptor {
  const exempt = options.exempt.map((service) => `/${service}/`);
  const { idleMs } = options;
  return (method, next) => {
    if (exempt.some((prefix) => method.path.startsWith(prefix))) return new ServerInterceptingCall(next);
    const counter = options.counted.get(method.path);
    let taken = 0;
    let answered = 0;
    let received = false;
    let over = false;
    let statusSent = false;
    let timer: NodeJS.Timeout | undefined;

    const stop = (): void => {
      over = true;
      clearTimeout(timer);
    };
    const arm = (): void => {
      clearTimeout(timer);
      if (over) return;
      // A unary call that has its request is the handler's: it ends by itself.
      if (received && counter === undefined) return;
      timer = setTimeout(expire, idleMs);
      timer.unref();
    };
    const expire = (): void => {
      if (over) return;
      if (answered < taken) return arm();
      stop();
      statusSent = true;
      next.sendStatus({
        code: Status.UNAVAILABLE,
        details: received
          ? `stream idle for ${idleMs} ms with nothing owed (grpc.maxCallIdleMs): closed`
          : `no request message within ${idleMs} ms (grpc.maxCallIdleMs): closed`,
      });
    };

    return new ServerInterceptingCall(next, {
      start: (startNext) => {
        arm();
        startNext({
          onReceiveMessage: (message: unknown, messageNext) => {
            received = true;
            if (counter !== undefined) taken += counter.taken(message);
            arm();
            messageNext(message);
          },
          onCancel: stop,
        });
      },
      sendMessage: (message: unknown, messageNext) => {
        if (statusSent) return;
        if (counter !== undefined) answered += counter.answered(message);
        arm();
        messageNext(message);
      },
      sendStatus: (status, statusNext) => {
        // The handler's own status after this interceptor ended the call is dropped.
        if (statusSent) return;
        statusSent = true;
        stop();
        statusNext(status);
      },
    });
  };
}
