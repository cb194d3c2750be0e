// What the admin API needs from the node, injected by node/ (the API never reaches the config
// store, the cluster or the file system itself).
import { Type } from 'typebox';
import type { Static } from 'typebox';
import type { CommandBody } from '../config/commands.ts';
import type { ValidationError } from '../config/schema.ts';
import type { SshHostKey } from '../config/model/site.ts';
import type { ConfigView } from '../config/view.ts';
import type { Logger } from '../logging/app-log.ts';
import type { SetupCodes } from './setup-code.ts';

/** Why a proposed change did not apply; the API maps each to its status (errors.ts). */
export type ProposeFailure =
  | { readonly kind: 'invalid'; readonly errors: readonly ValidationError[] }
  | { readonly kind: 'conflict'; readonly errors: readonly ValidationError[] }
  | { readonly kind: 'unavailable'; readonly message: string };

export type ProposeOutcome = { readonly ok: true; readonly index: number } | ({ readonly ok: false } & ProposeFailure);

export const NODE_STATUS_SCHEMA = Type.Object({
  version: Type.String(),
  nodeId: Type.String(),
  uptimeSeconds: Type.Number(),
  configIndex: Type.Integer(),
  sites: Type.Array(Type.Object({ id: Type.String(), enabled: Type.Boolean(), listeners: Type.Array(Type.String({ description: 'protocol host:port' })) })),
  cluster: Type.Optional(Type.Unknown()),
});
export type NodeStatus = Static<typeof NODE_STATUS_SCHEMA>;

export interface AdminContext {
  config(): ConfigView;
  /** Validates and proposes `body` as `actor`; resolves once applied on this node. */
  propose(body: CommandBody, actor: string): Promise<ProposeOutcome>;
  /** The node's secret box (secrets enter commands sealed, never in clear). */
  seal(plain: string, context: string): string;
  open(sealed: string, context: string): string;
  now(): number;
  readonly setup: SetupCodes;
  status(): NodeStatus;
  /** The configuration backup archive (zip); `passphrase` wraps the master key into it. */
  backup(passphrase: string | undefined): Promise<Buffer>;
  /** Validates the archive completely, then replaces the configuration; ApiError when it does not fit. */
  restore(archive: Buffer, actor: string): Promise<RestoreSummary>;
  /** Node-side site operations the API cannot do itself (layering: key generation, listeners). */
  readonly sites: SiteControl;
  /** Prometheus text for /metrics. */
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  readonly logger: Logger;
}

export const RESTORE_SUMMARY_SCHEMA = Type.Object({
  sites: Type.Integer(),
  users: Type.Integer(),
  superAdmins: Type.Integer(),
  configIndex: Type.Integer({ description: 'the config log index the restore applied at' }),
});
export type RestoreSummary = Static<typeof RESTORE_SUMMARY_SCHEMA>;

export interface SiteControl {
  /** Fresh host keys for a new site, private halves already sealed for `siteId`. */
  newHostKeys(siteId: string): Promise<SshHostKey[]>;
  /**
   * Closes and reopens the site's listeners on this node (even if unchanged); resolves with
   * them afterwards (`protocol host:port`). Other sites' listeners and sessions are not touched.
   */
  restart(siteId: string): Promise<string[]>;
}

/** Who a valid token belongs to. */
export interface Principal {
  readonly role: 'sa' | 'adm';
  readonly name: string;
  readonly jti: string;
  /** Expiry, ms since the epoch. */
  readonly expiresAt: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function actorOf(principal: Principal): string {
  return `${principal.role}:${principal.name}`;
}
