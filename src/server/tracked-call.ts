import {
  ServerInterceptingCall,
  status as Status,
  type ServerInterceptingCallInterface,
  type StatusObject,
} from '@grpc/grpc-js';

/**
 * How a method's messages carry work. The API promises exactly one ack per
 * event (DESIGN.md §2), so a stream owes nothing once answered >= taken.
 */
export interface WorkCounter {
  /** Events in one request message. */
  taken(request: unknown): number;
  /** Acks in one response message. */
  answered(response: unknown): number;
}

export type EndStatus = Partial<StatusObject> & Pick<StatusObject, 'code' | 'details'>;

/** What every call refused or cut by a draining server ends with. */
export const SHUTTING_DOWN: EndStatus = { code: Status.UNAVAILABLE, details: 'gateway is shutting down' };

/** What the interceptor knows of a call's method. */
export interface TrackedMethod {
  /** Set for methods whose calls carry events. */
  readonly counter: WorkCounter | undefined;
  /** Server-streaming or bidi; without a counter such a call (health Watch, reflection) holds no events. */
  readonly responseStream: boolean;
}

interface Lifecycle {
  /** The call reached its handler. */
  opened(call: TrackedCall): void;
  /** The call is over: status sent, or cancelled by the client or the connection. */
  ended(call: TrackedCall): void;
}

/**
 * One call seen by the CallDrainer's interceptor: counts the events its
 * handler took and the acks it sent, and can end the call on its own.
 */
export class TrackedCall {
  readonly interceptingCall: ServerInterceptingCall;
  readonly #next: ServerInterceptingCallInterface;
  readonly #counter: WorkCounter | undefined;
  readonly #lifecycle: Lifecycle;
  /** A call that carries events, or a unary call: the server waits for these to finish. */
  readonly holdsWork: boolean;
  #taken = 0;
  #answered = 0;
  #halfClosed = false;
  #dropped = false;
  #draining = false;
  #statusSent = false;
  #over = false;

  constructor(next: ServerInterceptingCallInterface, method: TrackedMethod, lifecycle: Lifecycle) {
    this.#next = next;
    this.#counter = method.counter;
    this.holdsWork = method.counter !== undefined || !method.responseStream;
    this.#lifecycle = lifecycle;
    this.interceptingCall = new ServerInterceptingCall(next, {
      start: (startNext) =>
        startNext({
          onReceiveMetadata: (metadata, metadataNext) => {
            // Only reached when the call is still open at start, so `ended` is sure to follow.
            this.#lifecycle.opened(this);
            metadataNext(metadata);
          },
          onReceiveMessage: (message: unknown, messageNext) => this.#onRequest(message, messageNext),
          onReceiveHalfClose: (halfCloseNext) => {
            this.#halfClosed = true;
            halfCloseNext();
          },
          onCancel: () => this.#onOver(),
        }),
      sendMessage: (message: unknown, messageNext) => this.#onResponse(message, messageNext),
      sendStatus: (status, statusNext) => {
        if (this.#statusSent) return;
        this.#statusSent = true;
        // An OK from the handler would claim the events this call did not read were taken.
        statusNext(this.#dropped && status.code === Status.OK ? { ...status, ...SHUTTING_DOWN } : status);
      },
    });
  }

  /** From now on requests are not read; the call ends once its events are acked. */
  drain(): void {
    this.#draining = true;
    this.#maybeFinish();
  }

  /** Ends the call now with `status`; later answers from its handler are dropped. */
  end(status: EndStatus): void {
    if (this.#statusSent || this.#over) return;
    this.#statusSent = true;
    this.#next.sendStatus(status);
  }

  #onRequest(message: unknown, next: (message: unknown) => void): void {
    if (this.#draining && this.#counter !== undefined) {
      // Not handed on, so never read again: the handler's stream waits for a
      // message that does not come, HTTP/2 flow control holds the client, and
      // the call's status tells it this message was not taken.
      this.#dropped = true;
      this.#maybeFinish();
      return;
    }
    if (this.#counter !== undefined) this.#taken += this.#counter.taken(message);
    next(message);
  }

  #onResponse(message: unknown, next: (message: unknown) => void): void {
    if (this.#statusSent) return;
    if (this.#counter !== undefined) this.#answered += this.#counter.answered(message);
    next(message);
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    if (!this.#draining || this.#counter === undefined || this.#statusSent || this.#over) return;
    if (this.#answered < this.#taken) return;
    // Everything read was read to the end: the handler ends the call OK itself.
    if (this.#halfClosed && !this.#dropped) return;
    this.end(SHUTTING_DOWN);
  }

  #onOver(): void {
    if (this.#over) return;
    this.#over = true;
    this.#lifecycle.ended(this);
  }
}
