/** Errors a handler may throw on purpose; anything else is reported as `internal`. */
import type { ApiErrorBody, ApiErrorCode } from '../../shared/api';

export class HandlerError extends Error {
  override name = 'HandlerError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string, field?: string) => new HandlerError('not_found', `${what} does not exist.`, field);
export const badRequest = (message: string, field?: string) => new HandlerError('bad_request', message, field);
export const conflict = (message: string) => new HandlerError('conflict', message);

/** Maps any thrown value to the wire error body. */
export function toErrorBody(error: unknown): ApiErrorBody {
  if (error instanceof HandlerError) {
    // Bad requests read like schema errors: "config.baseModel: No checkpoint at ...".
    const message = error.code === 'bad_request' && error.field && !error.message.startsWith(`${error.field}: `) ? `${error.field}: ${error.message}` : error.message;
    return { code: error.code, message, ...(error.field ? { field: error.field } : {}) };
  }
  const e = error as { name?: string; code?: unknown; message?: string };
  if (e?.name === 'SupervisorError' && (e.code === 'not_found' || e.code === 'conflict')) {
    return { code: e.code, message: e.message ?? 'Error' };
  }
  return { code: 'internal', message: e?.message ?? String(error) };
}
