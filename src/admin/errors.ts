// One catalog of the admin API's error codes, each with its HTTP status, in one table. Every
// error answer has the same body: `{ "error": code, "message": what to do, "errors"?: [{ path,
// message }] }`, where `path` names the offending field (`body.jwtLifeSpan`, `params.vsite`).
import type { ValidationError } from '../config/schema.ts';

export const API_ERRORS = {
  /** The body, query or path does not fit the route's schema (field paths in `errors`). */
  invalid_request: 400,
  /** No credentials or token, or they are wrong. */
  unauthorized: 401,
  /** The token expired: log in again. */
  token_expired: 401,
  /** The token was logged out (or its owner's password changed). */
  token_revoked: 401,
  /** The password was right and 2FA is on: send the code too. */
  otp_required: 401,
  /** Authenticated, but this role or Admin may not do this (another site, a SuperAdmin route). */
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  /** The change conflicts with the configuration (still in use, exists already, stale). */
  conflict: 409,
  /** The setup step is over (a SuperAdmin exists) or its code expired. */
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** Too many requests from this source (login attempts). */
  too_many_requests: 429,
  internal: 500,
  /** The cluster has no quorum: the configuration cannot change now (transfers go on). */
  no_quorum: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiErrorBody {
  readonly error: ApiErrorCode;
  readonly message: string;
  readonly errors?: readonly ValidationError[];
}

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly errors: readonly ValidationError[] | undefined;
  constructor(code: ApiErrorCode, message: string, errors?: readonly ValidationError[]) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.errors = errors;
  }

  get status(): number {
    return API_ERRORS[this.code];
  }

  body(): ApiErrorBody {
    return { error: this.code, message: this.message, ...(this.errors === undefined ? {} : { errors: this.errors }) };
  }
}

export function notFound(what: string): ApiError {
  return new ApiError('not_found', `${what} does not exist; list them to see the ids`);
}
