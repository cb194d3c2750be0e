// SuperAdmins and Admins (SuperAdmins only): accounts, their sites (Admins), and their TOTP
// second factor. Passwords are write-only and hashed before they enter a command; a password
// change ends the tokens issued before it. A TOTP secret is sealed before it enters a command,
// shown once at enrolment, and turned on only by a first code from the authenticator app.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { hashPassword } from '../../auth/passwords.ts';
import { enrolTotp, verifyTotp } from '../../auth/totp.ts';
import { ADMIN_NAME, ADMIN_SCHEMA } from '../../config/model/admin.ts';
import type { Admin, SuperAdmin } from '../../config/model/admin.ts';
import { str } from '../../config/schema.ts';
import { totpContext } from '../auth.ts';
import type { AdminContext } from '../context.ts';
import { actorOf } from '../context.ts';
import { ApiError, notFound } from '../errors.ts';
import { proposeOrThrow } from '../propose.ts';
import type { AdminApp } from '../server.ts';
import { page, PAGE_QUERY, pageOf } from './paging.ts';
import { passwordProblem } from './passwords.ts';

const PASSWORD = str({ min: 1, max: 1024, line: true, description: 'write-only; at least 10 characters' });
const SITES = ADMIN_SCHEMA.properties.sites;
const DESCRIPTION = ADMIN_SCHEMA.properties.description;
const NAME_PARAM = Type.Object({ name: ADMIN_NAME }, { additionalProperties: false });
const CODE_BODY = Type.Object({ code: str({ min: 6, max: 6, pattern: /^[0-9]{6}$/, hint: 'must be the 6-digit code the authenticator app shows' }) }, { additionalProperties: false });
const ENROLMENT = Type.Object({ uri: Type.String({ description: 'otpauth:// URI for the authenticator app' }), qrPng: Type.String({ description: 'the URI as a QR code, PNG, base64' }) });
const TOTP_STATE = Type.Object({ name: Type.String(), totpEnabled: Type.Boolean() });
const DELETED = Type.Object({ deleted: Type.String() });

type Account = SuperAdmin | Admin;

interface Kind {
  readonly role: 'sa' | 'adm';
  readonly path: string;
  readonly who: string;
  readonly withSites: boolean;
}

const KINDS: readonly Kind[] = [
  { role: 'sa', path: '/api/v1/sa/superadmins', who: 'SuperAdmin', withSites: false },
  { role: 'adm', path: '/api/v1/sa/admins', who: 'Admin', withSites: true },
];

const OUT = Type.Object({
  name: Type.String(),
  enabled: Type.Boolean(),
  description: Type.String(),
  sites: Type.Optional(Type.Array(Type.String(), { description: 'Admins: the sites they manage' })),
  totpEnabled: Type.Boolean({ description: '2FA is on (enrolled and confirmed)' }),
});

function present(account: Account): Static<typeof OUT> {
  return {
    name: account.name,
    enabled: account.enabled,
    description: account.description,
    ...('sites' in account ? { sites: [...account.sites] } : {}),
    totpEnabled: account.totp?.confirmed === true,
  };
}

function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new ApiError('invalid_request', `body.password: ${problem}`, [{ path: 'body.password', message: problem }]);
}

export function adminRoutes(app: AdminApp, ctx: AdminContext): void {
  for (const kind of KINDS) {
    const tags = ['sa'];
    const access = { config: { access: 'sa' as const } };
    const list = (): readonly Account[] => (kind.role === 'sa' ? ctx.config().superAdmins() : ctx.config().admins());
    const find = (name: string): Account => {
      const account = kind.role === 'sa' ? ctx.config().superAdmin(name) : ctx.config().admin(name);
      if (account === undefined) throw notFound(`${kind.who} '${name}'`);
      return account;
    };
    const put = async (account: Account, actor: string): Promise<void> => {
      const body = kind.role === 'sa' ? { type: 'superadmin.put' as const, superAdmin: account as SuperAdmin } : { type: 'admin.put' as const, admin: account as Admin };
      await proposeOrThrow(ctx, body, actor);
    };
    const CREATE = Type.Object(
      { name: ADMIN_NAME, password: PASSWORD, enabled: Type.Optional(Type.Boolean()), description: Type.Optional(DESCRIPTION), ...(kind.withSites ? { sites: Type.Optional(SITES) } : {}) },
      { additionalProperties: false },
    );
    const PATCH = Type.Object(
      { password: Type.Optional(PASSWORD), enabled: Type.Optional(Type.Boolean()), description: Type.Optional(DESCRIPTION), ...(kind.withSites ? { sites: Type.Optional(SITES) } : {}) },
      { additionalProperties: false },
    );

    app.get(kind.path, { ...access, schema: { summary: `${kind.who}s, by name`, tags, querystring: PAGE_QUERY, response: { 200: page(OUT) } } }, async (request) => {
      const sorted = [...list()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return pageOf(sorted, (a) => a.name, request.query, undefined, present);
    });
    app.post(kind.path, { ...access, schema: { summary: `Creates a ${kind.who}`, tags, body: CREATE, response: { 201: OUT } } }, async (request, reply) => {
      const body = request.body as Static<typeof CREATE> & { sites?: string[] };
      if (list().some((a) => a.name === body.name)) throw new ApiError('conflict', `${kind.who} '${body.name}' exists already; change it with PATCH ${kind.path}/${body.name}`);
      checkPassword(body.password);
      const account = {
        name: body.name,
        passwordHash: await hashPassword(body.password),
        enabled: body.enabled ?? true,
        description: body.description ?? '',
        ...(kind.withSites ? { sites: body.sites ?? [] } : {}),
      } as Account;
      await put(account, actorOf(request.principal!));
      void reply.code(201);
      return present(find(body.name));
    });
    app.get(`${kind.path}/:name`, { ...access, schema: { summary: `One ${kind.who}`, tags, params: NAME_PARAM, response: { 200: OUT } } }, async (request) => present(find(request.params.name)));
    app.patch(
      `${kind.path}/:name`,
      { ...access, schema: { summary: `Changes a ${kind.who}; a new password ends the tokens issued before it`, tags, params: NAME_PARAM, body: PATCH, response: { 200: OUT } } },
      async (request) => {
        const current = find(request.params.name);
        const { password, ...fields } = request.body as Static<typeof PATCH> & { sites?: string[] };
        let changed: Account = { ...current, ...fields } as Account;
        if (password !== undefined) {
          checkPassword(password);
          changed = { ...changed, passwordHash: await hashPassword(password), tokensValidAfter: ctx.now() };
        }
        await put(changed, actorOf(request.principal!));
        return present(find(current.name));
      },
    );
    app.delete(`${kind.path}/:name`, { ...access, schema: { summary: `Removes a ${kind.who}`, tags, params: NAME_PARAM, response: { 200: DELETED } } }, async (request) => {
      const current = find(request.params.name);
      await proposeOrThrow(ctx, kind.role === 'sa' ? { type: 'superadmin.delete', name: current.name } : { type: 'admin.delete', name: current.name }, actorOf(request.principal!));
      return { deleted: current.name };
    });

    app.post(
      `${kind.path}/:name/totp`,
      { ...access, schema: { summary: 'Enrols 2FA: a new secret as an otpauth URI and QR code; on once confirmed by a first code', tags, params: NAME_PARAM, response: { 200: ENROLMENT } } },
      async (request) => {
        const current = find(request.params.name);
        if (current.totp?.confirmed) throw new ApiError('conflict', `2FA is on for '${current.name}'; DELETE ${kind.path}/${current.name}/totp first to enrol a new device`);
        const enrolment = await enrolTotp('Ferry', current.name);
        const totp = { secretSealed: ctx.seal(enrolment.secret, totpContext(kind.role, current.name)), confirmed: false, lastStep: 0 };
        await put({ ...current, totp } as Account, actorOf(request.principal!));
        return { uri: enrolment.uri, qrPng: enrolment.qrPng };
      },
    );
    app.post(
      `${kind.path}/:name/totp/confirm`,
      { ...access, schema: { summary: 'Turns 2FA on with a first code from the authenticator app', tags, params: NAME_PARAM, body: CODE_BODY, response: { 200: TOTP_STATE } } },
      async (request) => {
        const current = find(request.params.name);
        const totp = current.totp;
        if (totp === undefined) throw new ApiError('conflict', `'${current.name}' has no 2FA enrolment; POST ${kind.path}/${current.name}/totp first`);
        if (totp.confirmed) throw new ApiError('conflict', `2FA is on for '${current.name}' already`);
        const step = verifyTotp(ctx.open(totp.secretSealed, totpContext(kind.role, current.name)), request.body.code, totp.lastStep, ctx.now());
        if (step === undefined) throw new ApiError('invalid_request', 'body.code: wrong code; enter the current code of the authenticator app (check the device clock if this repeats)', [{ path: 'body.code', message: 'wrong code' }]);
        await put({ ...current, totp: { ...totp, confirmed: true, lastStep: step } } as Account, actorOf(request.principal!));
        return { name: current.name, totpEnabled: true };
      },
    );
    app.delete(
      `${kind.path}/:name/totp`,
      { ...access, schema: { summary: 'Turns 2FA off (a lost device); the password alone logs in until a new enrolment', tags, params: NAME_PARAM, response: { 200: TOTP_STATE } } },
      async (request) => {
        const current = find(request.params.name);
        const { totp: _totp, ...rest } = current;
        await put(rest as Account, actorOf(request.principal!));
        return { name: current.name, totpEnabled: false };
      },
    );
  }
}
