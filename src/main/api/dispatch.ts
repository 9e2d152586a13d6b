/**
 * The boundary every transport goes through: validate the raw input with the channel's zod
 * schema (a bad request names the field), run the handler, wrap the answer in an ApiResult.
 */
import { API_CHANNELS, type ApiChannel, type ApiResult } from '../../shared/api';
import { describeIssues, inputSchemas } from '../../shared/schemas';
import { toErrorBody } from './errors';
import type { Handlers } from './handlers';

export function isChannel(value: string): value is ApiChannel {
  return (API_CHANNELS as readonly string[]).includes(value);
}

export async function dispatch(handlers: Handlers, channel: string, raw: unknown): Promise<ApiResult<unknown>> {
  if (!isChannel(channel)) {
    return { ok: false, error: { code: 'not_found', message: `Unknown API method "${channel}".` } };
  }
  const parsed = inputSchemas[channel].safeParse(raw === null ? undefined : raw);
  if (!parsed.success) {
    const [first] = describeIssues(parsed.error);
    const field = first?.field ?? '';
    return {
      ok: false,
      error: { code: 'bad_request', message: field ? `${field}: ${first!.message}` : (first?.message ?? 'Invalid input'), field },
    };
  }
  try {
    const handler = handlers[channel] as (input: unknown) => Promise<unknown>;
    return { ok: true, value: await handler(parsed.data) };
  } catch (error) {
    return { ok: false, error: toErrorBody(error) };
  }
}
