// Coded errors: each says what went wrong and what to do next, so transports can show them as-is.

/** The user typed something we cannot act on; `usage` says how to write it. Nothing was changed. */
export class UsageError extends Error {
  code = 'usage';
  usage: string | undefined;
  constructor(message: string, usage?: string) {
    super(message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

/** The user may not do this (not a responder, not an approver, own request). Nothing was changed. */
export class AccessError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'AccessError';
    this.code = code;
  }
}

/** An approval could not be given or used (self-approval, expired, already executed...). */
export class ApprovalError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ApprovalError';
    this.code = code;
  }
}

/** A configured outside system refused or failed: "their outage", never to be mistaken for "our bug". */
export class ExternalServiceError extends Error {
  code = 'external';
  service: string;
  status: number | undefined;
  retryable: boolean;
  constructor(
    service: string,
    message: string,
    opts: { status?: number; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'ExternalServiceError';
    this.service = service;
    this.status = opts.status;
    this.retryable = opts.retryable ?? false;
  }
}

/** The config file (or an environment variable it names) is wrong; the message names the path. */
export class ConfigError extends Error {
  code = 'config';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Errors whose message is written for the person at the keyboard. */
export function isUserFacing(
  err: unknown,
): err is UsageError | AccessError | ApprovalError | ExternalServiceError | ConfigError {
  return (
    err instanceof UsageError ||
    err instanceof AccessError ||
    err instanceof ApprovalError ||
    err instanceof ExternalServiceError ||
    err instanceof ConfigError
  );
}
