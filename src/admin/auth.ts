// Logging in to the admin API and checking every later request. Login is HTTP Basic (the
// reference's scripts do `curl -u` or send `Authorization: Basic ...`), plus a TOTP code in the
// `X-Ferry-OTP` header (or `otp` in the query) once 2FA is on; it answers a short-lived JWT.
// Logout revokes the token in the replicated config, so every node refuses it at once.
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import { verifyAgainstDummy, verifyPassword } from '../auth/passwords.ts';
import { verifyTotp } from '../auth/totp.ts';
import { newId } from '../config/ids.ts';
import type { Admin, SuperAdmin } from '../config/model/admin.ts';
import { DEFAULT_JWT_LIFESPAN_MINUTES } from '../config/model/settings.ts';
import type { AdminContext, Principal } from './context.ts';
import { actorOf } from './context.ts';
import { ApiError } from './errors.ts';
import { proposeOrThrow } from './propose.ts';
import type { AdminApp, RouteAccess } from './server.ts';

interface TokenClaims {
  readonly role: 'sa' | 'adm';
  readonly sub: string;
  readonly jti: string;
  readonly iat: number;
  /** Issued-at in milliseconds: `iat` has whole seconds, too coarse to order a token and a password reset. */
  readonly iatMs?: number;
  readonly exp: number;
}

/** Header that carries the TOTP code at login. */
export const OTP_HEADER = 'x-ferry-otp';

/** The sealed-secret context of an administrator's TOTP secret. */
export function totpContext(role: 'sa' | 'adm', name: string): string {
  return `${role}/${name}/totp`;
}

function parseBasic(header: string | undefined): { name: string; password: string } {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header?.trim() ?? '');
  if (!match) throw new ApiError('unauthorized', 'log in with HTTP Basic credentials: Authorization: Basic base64(name:password) (curl -u NAME:PASSWORD)');
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new ApiError('unauthorized', 'the Basic credentials must be base64 of name:password');
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function accountOf(ctx: AdminContext, role: 'sa' | 'adm', name: string): SuperAdmin | Admin | undefined {
  const view = ctx.config();
  return role === 'sa' ? view.superAdmin(name) : view.admin(name);
}

async function login(ctx: AdminContext, app: AdminApp, request: FastifyRequest, role: 'sa' | 'adm'): Promise<{ token: string }> {
  const { name, password } = parseBasic(request.headers.authorization);
  const account = accountOf(ctx, role, name);
  // Unknown names cost what wrong passwords cost: no way to learn who exists.
  const passwordOk = account === undefined ? await verifyAgainstDummy(password) : await verifyPassword(account.passwordHash, password);
  const who = role === 'sa' ? 'SuperAdmin' : 'Admin';
  if (!passwordOk || account === undefined || !account.enabled) {
    ctx.logger.warn({ role, name, ip: request.ip, reason: account === undefined ? 'unknown name' : account.enabled ? 'wrong password' : 'disabled' }, 'admin login refused');
    throw new ApiError('unauthorized', `wrong ${who} name or password (or the account is disabled)`);
  }
  if (account.totp?.confirmed) await checkSecondFactor(ctx, request, role, account);
  const lifespan = ctx.config().settings.jwtLifeSpan ?? DEFAULT_JWT_LIFESPAN_MINUTES;
  const token = app.jwt.sign({ role, sub: name, jti: newId(), iatMs: ctx.now() }, { expiresIn: lifespan * 60 });
  ctx.logger.info({ role, name, ip: request.ip }, 'admin logged in');
  return { token };
}

async function checkSecondFactor(ctx: AdminContext, request: FastifyRequest, role: 'sa' | 'adm', account: SuperAdmin | Admin): Promise<void> {
  const header = request.headers[OTP_HEADER];
  const query = (request.query as { otp?: unknown } | undefined)?.otp;
  const code = typeof header === 'string' ? header.trim() : typeof query === 'string' ? query.trim() : '';
  if (code === '') throw new ApiError('otp_required', `2FA is on for '${account.name}': send the code from the authenticator app in the ${OTP_HEADER} header`);
  const totp = account.totp!;
  const step = verifyTotp(ctx.open(totp.secretSealed, totpContext(role, account.name)), code, totp.lastStep, ctx.now());
  if (step === undefined) {
    ctx.logger.warn({ role, name: account.name, ip: request.ip }, 'admin login refused: wrong or reused 2FA code');
    throw new ApiError('unauthorized', 'wrong or already used 2FA code; wait for the next code (check the device clock if this repeats)');
  }
  // Spent cluster-wide: the same code cannot log in again on this or another node.
  const spent = { ...account, totp: { ...totp, lastStep: step } };
  const body = role === 'sa' ? { type: 'superadmin.put' as const, superAdmin: spent } : { type: 'admin.put' as const, admin: spent as Admin };
  await proposeOrThrow(ctx, body, `${role}:${account.name}`);
}

/**
 * The principal of a request to a route that needs `access`, or an ApiError: no or bad token
 * (401), expired (401 token_expired), logged out or issued before a password change (401
 * token_revoked), wrong role or another Admin's site (403).
 */
export async function authenticate(app: AdminApp, ctx: AdminContext, request: FastifyRequest, access: Exclude<RouteAccess, 'public'>): Promise<Principal> {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header.trim());
  if (!match) throw new ApiError('unauthorized', 'send a token: Authorization: Bearer <token> (get one from GET /api/v1/sa/login or /api/v1/adm/login)');
  let claims: TokenClaims;
  try {
    claims = app.jwt.verify<TokenClaims>(match[1] as string);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'FAST_JWT_EXPIRED') throw new ApiError('token_expired', 'the token expired; log in again');
    throw new ApiError('unauthorized', 'the token is not valid; log in again');
  }
  if ((claims.role !== 'sa' && claims.role !== 'adm') || typeof claims.sub !== 'string' || typeof claims.jti !== 'string') {
    throw new ApiError('unauthorized', 'the token is not valid; log in again');
  }
  const view = ctx.config();
  if (view.isRevoked(claims.jti)) throw new ApiError('token_revoked', 'the token was logged out; log in again');
  const account = accountOf(ctx, claims.role, claims.sub);
  if (account === undefined || !account.enabled) throw new ApiError('token_revoked', 'the account of this token was removed or disabled');
  if ((account.tokensValidAfter ?? 0) > (typeof claims.iatMs === 'number' ? claims.iatMs : claims.iat * 1000)) throw new ApiError('token_revoked', 'the password changed since this token was issued; log in again');
  if (access === 'sa' && claims.role !== 'sa') throw new ApiError('forbidden', 'this route is for SuperAdmins; Admins manage their sites under /api/v1/adm');
  const vsite = (request.params as { vsite?: unknown } | undefined)?.vsite;
  if (claims.role === 'adm' && typeof vsite === 'string' && !(account as Admin).sites.includes(vsite)) {
    throw new ApiError('forbidden', `Admin '${claims.sub}' does not manage site '${vsite}'; a SuperAdmin can add it to the Admin's sites`);
  }
  return { role: claims.role, name: claims.sub, jti: claims.jti, expiresAt: claims.exp * 1000 };
}

const TOKEN = Type.Object({ token: Type.String({ description: 'JWT for Authorization: Bearer' }) });
const LOGGED_OUT = Type.Object({ loggedOut: Type.Boolean() });

export function authRoutes(app: AdminApp, ctx: AdminContext): void {
  for (const role of ['sa', 'adm'] as const) {
    const who = role === 'sa' ? 'SuperAdmin' : 'Admin';
    app.get(
      `/api/v1/${role}/login`,
      {
        config: { access: 'public' },
        schema: {
          summary: `${who} login: HTTP Basic credentials (and ${OTP_HEADER} with 2FA) answer a short-lived token`,
          tags: [role],
          security: [{ basic: [] }],
          querystring: Type.Object({ otp: Type.Optional(Type.String({ maxLength: 16 })) }, { additionalProperties: false }),
          response: { 200: TOKEN },
        },
      },
      async (request, reply) => {
        try {
          return await login(ctx, app, request, role);
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) void reply.header('www-authenticate', `Basic realm="Ferry ${who}", charset="UTF-8"`);
          throw error;
        }
      },
    );
    app.get(
      `/api/v1/${role}/logout`,
      { config: { access: role }, schema: { summary: 'Revokes this token on every node at once', tags: [role], response: { 200: LOGGED_OUT } } },
      async (request) => {
        const principal = request.principal!;
        if (principal.role !== role) throw new ApiError('forbidden', `this is the ${who} logout; log out at /api/v1/${principal.role}/logout`);
        await proposeOrThrow(ctx, { type: 'token.revoke', jti: principal.jti, expiresAt: principal.expiresAt }, actorOf(principal));
        ctx.logger.info({ role, name: principal.name, ip: request.ip }, 'admin logged out');
        return { loggedOut: true };
      },
    );
  }
}
