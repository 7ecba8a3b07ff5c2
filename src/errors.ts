import { status as Status } from '@grpc/grpc-js';

/**
 * Every error commitlog throws carries a code from this list. The table below
 * is the one place that maps a code to a gRPC status and says whether retrying
 * can help.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { status: Status.INVALID_ARGUMENT, retryable: false },
  SPILL_UNAVAILABLE: { status: Status.UNAVAILABLE, retryable: false },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CommitlogError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: Status;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommitlogError';
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    this.status = ERROR_CODES[code].status;
  }
}
