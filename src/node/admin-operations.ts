// Administrator accounts from the command line (local and privileged: the control socket is
// the service user's alone): the setup code, the unattended setup, and the two recoveries an
// administrator needs when locked out (a forgotten SuperAdmin password, a lost 2FA device).
import { hashPassword } from '../auth/passwords.ts';
import type { SetupCodes } from '../admin/setup-code.ts';
import { passwordProblem } from '../admin/routes/passwords.ts';
import type { Logger } from '../logging/app-log.ts';
import type { ConfigStore } from './config-store.ts';
import type { ControlHandler } from './control-server.ts';
import { proposer } from './admin-http.ts';

export interface AdminOpsDeps {
  readonly store: ConfigStore;
  readonly logger: Logger;
  readonly setup: SetupCodes;
  readonly dataDir: string;
}

function strings<K extends string>(params: unknown, keys: readonly K[]): Record<K, string> {
  const p = params as Record<string, unknown> | null;
  for (const key of keys) if (!p || typeof p[key] !== 'string') throw new Error(`missing or invalid parameter "${key}"`);
  return p as Record<K, string>;
}

async function write(deps: AdminOpsDeps, body: Parameters<ReturnType<typeof proposer>>[0], actor: string): Promise<void> {
  const outcome = await proposer(deps.store)(body, actor);
  if (outcome.ok) return;
  if (outcome.kind === 'unavailable') throw new Error(outcome.message);
  throw new Error(outcome.errors.map((e) => `${e.path || '(change)'}: ${e.message}`).join('; '));
}

export function adminHandlers(deps: AdminOpsDeps): Record<string, ControlHandler> {
  return {
    genssc: async () => {
      if (deps.store.current().superAdmins().length > 0) {
        throw new Error('this node has a SuperAdmin already, so there is no setup step; reset a password with `ferry sapassreset -s NAME -p PASS`');
      }
      return deps.setup.issue();
    },
    setup: async (params) => {
      const p = strings(params, ['name', 'password']);
      if (deps.store.current().superAdmins().length > 0) throw new Error('a SuperAdmin exists already: `ferry setup` only creates the first one; add others through the API');
      const problem = passwordProblem(p.password, p.name);
      if (problem) throw new Error(`the password ${problem}`);
      await write(deps, { type: 'superadmin.put', superAdmin: { name: p.name, passwordHash: await hashPassword(p.password), enabled: true, description: 'created by ferry setup' } }, 'cli:setup');
      deps.logger.info({ name: p.name }, 'setup: first SuperAdmin created from the command line');
      return { name: p.name };
    },
    saPassReset: async (params) => {
      const p = strings(params, ['name', 'password']);
      const sa = deps.store.current().superAdmin(p.name);
      if (sa === undefined) {
        const known = deps.store.current().superAdmins().map((s) => s.name).join(', ') || 'none';
        throw new Error(`no SuperAdmin '${p.name}' (SuperAdmins: ${known})`);
      }
      const problem = passwordProblem(p.password, p.name);
      if (problem) throw new Error(`the password ${problem}`);
      // Tokens issued before the reset stop working: whoever knew the old password is out.
      await write(deps, { type: 'superadmin.put', superAdmin: { ...sa, passwordHash: await hashPassword(p.password), enabled: true, tokensValidAfter: Date.now() } }, 'cli:sapassreset');
      deps.logger.warn({ name: p.name }, 'SuperAdmin password reset from the command line');
      return { name: p.name };
    },
    disable2fa: async (params) => {
      const p = strings(params, ['name']);
      const sa = deps.store.current().superAdmin(p.name);
      if (sa === undefined) throw new Error(`no SuperAdmin '${p.name}'`);
      if (sa.totp === undefined) return { name: p.name, changed: false };
      const { totp: _dropped, ...without } = sa;
      await write(deps, { type: 'superadmin.put', superAdmin: without }, 'cli:disable2fa');
      deps.logger.warn({ name: p.name }, 'SuperAdmin 2FA turned off from the command line');
      return { name: p.name, changed: true };
    },
  };
}
