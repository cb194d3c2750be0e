// Composition root: wires the data directory, config store, logs, SSH servers and the control
// socket into one running node, and takes them down in reverse order.
import path from 'node:path';
import { logFailedLogins } from '../auth/login.ts';
import type { AuthOutcomeEvent } from '../auth/login.ts';
import { Protector } from '../protector/protector.ts';
import type { ProtectedSite } from '../protector/protector.ts';
import { verifyAgainstDummy, verifyPassword } from '../auth/passwords.ts';
import { ftpCertificateContext, isFtpBinding } from '../config/model/site.ts';
import type { FtpBinding, ProtocolBinding, Site } from '../config/model/site.ts';
import type { User } from '../config/model/user.ts';
import { startFtpServer } from '../protocols/ftp/server.ts';
import { DEFAULT_FTP_SECURITY } from '../protocols/ftp/settings.ts';
import type { ConnectionInfo, SessionProtocol } from '../session/types.ts';
import { ensureFtpCertificate } from './ftp-certificate.ts';
import { createSecretBox, loadOrCreateMasterKey } from '../config/secrets.ts';
import type { SecretBox } from '../config/secrets.ts';
import { DriverPool } from '../vfs/pool.ts';
import { openAppLog } from '../logging/app-log.ts';
import type { Logger } from '../logging/app-log.ts';
import { openW3cTransferLog } from '../logging/w3c.ts';
import { startSshServer } from '../protocols/ssh/server.ts';
import { SessionRegistry } from '../session/registry.ts';
import { openSession } from '../session/session.ts';
import { hostKeyContext, isFirstStart, markInitialized, planFirstStart, writeInitialCredentials, DEFAULT_SITE_ID, DEFAULT_SSH_HOST, DEFAULT_SSH_PORT } from './bootstrap.ts';
import { configLogDir, openConfigStore } from './config-store.ts';
import { LEGACY_NODE_ID, loadNodeId, migrateLegacyNodeId, newNodeId } from './node-id.ts';
import type { ConfigStore } from './config-store.ts';
import { startControlServer } from './control-server.ts';
import type { ControlHandler } from './control-server.ts';
import { ClusterMember, foundCluster, isClusterMember, loadClusterFiles } from './cluster.ts';
import { RaftReplica } from '../../cluster/replica/raft-replica.ts';
import { controlHandlers } from './operations.ts';
import { lockDataDir, prepareDataDir } from './data-dir.ts';
import { watchDiskTargets } from './target-audit.ts';
import { SiteReconciler } from './reconciler.ts';
import { SetupCodes } from '../admin/setup-code.ts';
import type { NodeStatus, SiteControl } from '../admin/context.ts';
import { newHostKeys } from './site-operations.ts';
import { SOFTWARE } from './version.ts';
import { DEFAULT_ADMIN_HOST, DEFAULT_ADMIN_PORT, loadAdminHttpSettings, proposer, startAdminHttp } from './admin-http.ts';
import { adminHandlers } from './admin-operations.ts';
import { NodeMetrics } from './metrics.ts';
import { Notifier } from './notifier.ts';
import type { TransferRecord } from '../logging/transfer-log.ts';
import type { SiteListener } from './reconciler.ts';
import { backupHandlers, makeBackup, restoreRunning, takePendingRestore } from './backup-operations.ts';
import type { BackupDeps } from './backup-operations.ts';
import { envelope } from '../config/ids.ts';

export { SOFTWARE };

export interface NodeOptions {
  readonly dataDir: string;
  /** Listen address and port of the default site's SSH bindings for this run (never stored). */
  readonly host?: string | undefined;
  readonly sftpPort?: number | undefined;
  /**
   * A `ferry` command line for this node's data directory, written the way its operator runs
   * ferry, for the hints the node prints; `ferry COMMAND --data DIR ...` when not given.
   */
  readonly commandLine?: (command: string, args: readonly string[]) => string;
  /** Operator-facing lines (`listening ...`, first-start credentials). */
  readonly out: (line: string) => void;
  /** Open the cluster port (0: any free port). A member reuses its last port when not given. */
  readonly clusterPort?: number | undefined;
  /** First start of a node joining a cluster: a member's cluster address and a join token. */
  readonly join?: { readonly member: string; readonly token: string } | undefined;
  /** The id a joining node takes (default: generated). */
  readonly nodeId?: string | undefined;
  /** The admin API's port and address for this run (0: any free port); default: admin-http.json, else 0.0.0.0:6443. */
  readonly adminPort?: number | undefined;
  readonly adminHost?: string | undefined;
  /**
   * The default site's FTP/FTPES and implicit-FTPS ports (0: any free port) and passive range.
   * On the first start they are stored as the site's FTP bindings; later they override the
   * stored ones for this run only (and add one for this run where the site has none).
   */
  readonly ftpPort?: number | undefined;
  readonly ftpsPort?: number | undefined;
  readonly pasvPorts?: { readonly min: number; readonly max: number } | undefined;
}

export interface RunningNode {
  /** Closes everything in reverse order; `reason` (e.g. the signal) goes to the "node stopped" line. */
  stop(reason?: string): Promise<void>;
}

function hostPort(binding: { host: string; port: number }): string {
  return binding.host.includes(':') ? `[${binding.host}]:${binding.port}` : `${binding.host}:${binding.port}`;
}

/**
 * The bindings a site listens on in this run. --host, --sftp-port, --ftp-port, --ftps-port and
 * --pasv-ports override the default site's stored bindings for this run only and never rewrite
 * them: a port given once (0 in a test, say) must not follow every later start. Each override is
 * announced with a note line. Bindings of protocols this version does not know are left alone.
 */
export function bindingsForRun(site: Site, options: Pick<NodeOptions, 'host' | 'sftpPort' | 'ftpPort' | 'ftpsPort' | 'pasvPorts'>): { bindings: ProtocolBinding[]; notes: string[] } {
  const stored = site.bindings.filter((binding) => binding.protocol === 'ssh' || isFtpBinding(binding));
  if (site.id !== DEFAULT_SITE_ID) return { bindings: [...stored], notes: [] };
  const notes: string[] = [];
  const portFlag = { ssh: ['--sftp-port', options.sftpPort], ftp: ['--ftp-port', options.ftpPort], ftps: ['--ftps-port', options.ftpsPort] } as const;
  const bindings = stored.map((binding): ProtocolBinding => {
    const [flag, port] = portFlag[binding.protocol];
    const pasv = isFtpBinding(binding) && options.pasvPorts !== undefined && JSON.stringify(options.pasvPorts) !== JSON.stringify(binding.passivePorts) ? options.pasvPorts : undefined;
    const flags = [
      ...(options.host !== undefined && options.host !== binding.host ? [`--host ${options.host}`] : []),
      ...(port !== undefined && port !== binding.port ? [`${flag} ${port}`] : []),
      ...(pasv ? [`--pasv-ports ${pasv.min}-${pasv.max}`] : []),
    ];
    if (flags.length === 0) return binding;
    notes.push(`note: ${flags.join(' ')} overrides the stored binding ${hostPort(binding)} for this run only`);
    return { ...binding, host: options.host ?? binding.host, port: port ?? binding.port, ...(pasv ? { passivePorts: pasv } : {}) };
  });
  for (const protocol of ['ftp', 'ftps'] as const) {
    const [flag, port] = portFlag[protocol];
    if (port === undefined || stored.some((b) => b.protocol === protocol)) continue;
    const added: FtpBinding = { protocol, host: options.host ?? DEFAULT_SSH_HOST, port, ...(options.pasvPorts ? { passivePorts: options.pasvPorts } : {}) };
    notes.push(`note: ${flag} ${port} adds an ${protocol.toUpperCase()} binding ${hostPort(added)} for this run only (the site has none stored)`);
    bindings.push(added);
  }
  return { bindings, notes };
}

/** The FTP bindings a first start stores for the default site, from --ftp-port/--ftps-port/--pasv-ports. */
function firstStartFtpBindings(options: NodeOptions): FtpBinding[] {
  const passive = options.pasvPorts ? { passivePorts: options.pasvPorts } : {};
  return [
    ...(options.ftpPort !== undefined ? [{ protocol: 'ftp' as const, host: DEFAULT_SSH_HOST, port: options.ftpPort, ...passive }] : []),
    ...(options.ftpsPort !== undefined ? [{ protocol: 'ftps' as const, host: DEFAULT_SSH_HOST, port: options.ftpsPort, ...passive }] : []),
  ];
}

interface ListenerDeps {
  store: ConfigStore;
  secrets: SecretBox;
  drivers: DriverPool;
  logger: Logger;
  transferLog: ReturnType<typeof openW3cTransferLog>;
  sessions: SessionRegistry;
  protector: Protector;
  dataDir: string;
  metrics: NodeMetrics;
}

/** What every protocol's listener shares: the Session's dependencies and the login's. */
function sessionWiring(deps: ListenerDeps) {
  const failedLogins = logFailedLogins(deps.transferLog);
  const onOutcome = (event: AuthOutcomeEvent) => {
    failedLogins(event);
    deps.protector.authOutcome(event);
    deps.metrics.loginOutcome(event);
  };
  const hooks = {
    error: [(event: Parameters<Protector['sessionError']>[0]) => deps.protector.sessionError(event)],
    after: [(record: TransferRecord) => deps.metrics.transfer(record)],
  };
  return {
    openSession: (user: User, connection: ConnectionInfo, protocol: SessionProtocol) =>
      openSession(
        { view: deps.store.current(), node: deps.store.facts, drivers: deps.drivers, transferLog: deps.transferLog, logger: deps.logger, now: Date.now, registry: deps.sessions, hooks },
        user,
        connection,
        protocol,
      ),
    login: { getView: () => deps.store.current(), verifyPassword, verifyAgainstDummy, now: Date.now, onOutcome },
  };
}

/** The site's FTP certificate, or the node's self-signed one for the site (ftp-certificate.ts). */
async function ftpTls(site: Site, binding: FtpBinding, deps: ListenerDeps): Promise<{ key: string; cert: string }> {
  if (binding.certificate) return { cert: binding.certificate.certificatePem, key: deps.secrets.openString(binding.certificate.privateKeyEncrypted, ftpCertificateContext(site.id)) };
  const made = await ensureFtpCertificate(deps.dataDir, site.id);
  if (made.created) deps.logger.info({ siteId: site.id, certificate: made.paths.cert, key: made.paths.key }, 'ftp: made a self-signed TLS certificate for the site; replace both files to use your own');
  return made;
}

async function startFtpListener(site: Site, binding: FtpBinding, deps: ListenerDeps): Promise<SiteListener> {
  const { openSession: open, login } = sessionWiring(deps);
  return startFtpServer({
    site,
    protocol: binding.protocol,
    bind: { host: binding.host, port: binding.port },
    settings: {
      security: {
        allowPlainLogin: binding.protocol === 'ftp' && binding.explicitTls === 'optional',
        requireDataTls: binding.requireDataTls ?? DEFAULT_FTP_SECURITY.requireDataTls,
        requireSessionReuse: binding.requireSessionReuse ?? DEFAULT_FTP_SECURITY.requireSessionReuse,
      },
      passive: { portMin: binding.passivePorts?.min ?? 0, portMax: binding.passivePorts?.max ?? 0, externalAddress: binding.passiveAddress },
    },
    tls: await ftpTls(site, binding, deps),
    getView: () => deps.store.current(),
    openSession: open,
    logger: deps.logger.child({ siteId: site.id }),
    login,
    protector: deps.protector,
  });
}

async function startListener(site: Site, binding: ProtocolBinding, deps: ListenerDeps): Promise<SiteListener> {
  if (isFtpBinding(binding)) return startFtpListener(site, binding, deps);
  const hostKeys = site.hostKeys.map((key, index) => ({
    algorithm: key.algorithm,
    privateKeyPem: deps.secrets.openString(key.privateKeyEncrypted, hostKeyContext(site.id, index)),
  }));
  const { openSession: open, login } = sessionWiring(deps);
  return startSshServer({
    site,
    protector: deps.protector,
    hostKeys,
    bind: { host: binding.host, port: binding.port },
    getView: () => deps.store.current(),
    openSession: open,
    logger: deps.logger.child({ siteId: site.id }),
    login,
  });
}

/** This node's id: a joining node takes --node-id (or a new one), any other keeps its own. */
async function nodeIdForRun(options: NodeOptions): Promise<string> {
  if (options.join !== undefined) {
    if (!isFirstStart(options.dataDir)) {
      throw new Error(`--join is for a node's first start, and ${options.dataDir} is initialized already; start it without --join (it rejoins on its own)`);
    }
    return options.nodeId ?? newNodeId();
  }
  const nodeId = await loadNodeId(options.dataDir);
  if (options.nodeId !== undefined && options.nodeId !== nodeId) {
    throw new Error(`this node is ${nodeId} (${path.join(options.dataDir, 'node-id')}); --node-id names a joining node only`);
  }
  return nodeId;
}

/** The config store on this node's replica: a cluster of one, or a member driven by the cluster. */
function openNodeStore(dataDir: string, nodeId: string, member: ClusterMember | undefined, joining: boolean, logger: Logger): Promise<ConfigStore> {
  const onError = (error: Error) => logger.error({ err: error }, 'config store background error');
  if (member === undefined) return openConfigStore({ dataDir, nodeId, onError });
  return openConfigStore({
    dataDir,
    nodeId,
    onError,
    openReplica: async (stateMachine) => {
      const replica = await RaftReplica.open({
        dir: configLogDir(dataDir),
        stateMachine,
        nodeId,
        onError,
        // A joining node starts with no membership: the leader's snapshot brings it.
        bootstrap: joining ? { voters: [], learners: [] } : undefined,
        send: (messages) => member.send(messages),
        addressOf: (id) => member.addressOf(id),
        onConfChange: (change, confState) => member.onConfChange(change, confState),
      });
      member.attach(replica as RaftReplica<unknown>);
      return replica;
    },
  });
}

/**
 * The cluster port, when asked for (--cluster-port, --join) or when this node is a member
 * already (it reuses its last port). A node that is neither stays a cluster of one.
 */
async function startClusterMember(options: NodeOptions, nodeId: string, logger: Logger): Promise<ClusterMember | undefined> {
  const member = isClusterMember(options.dataDir);
  if (options.clusterPort === undefined && options.join === undefined && !member) return undefined;
  const port = options.clusterPort ?? (member ? (await loadClusterFiles(options.dataDir)).port : 0);
  if (!member && options.join === undefined) await foundCluster(options.dataDir, nodeId, port);
  const started = await ClusterMember.listen({ dataDir: options.dataDir, nodeId, host: options.host ?? DEFAULT_SSH_HOST, port, logger });
  if (options.join === undefined) await foundCluster(options.dataDir, nodeId, started.port);
  return started;
}

/** A joined node serves once it has applied what the cluster had committed when it joined. */
async function catchUp(store: ConfigStore, commit: number, logger: Logger): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (store.state().appliedIndex < commit && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (store.state().appliedIndex < commit) logger.warn({ applied: store.state().appliedIndex, commit }, 'still catching up with the cluster after 60 s; serving from what has arrived');
  else logger.info({ applied: store.state().appliedIndex }, 'caught up with the cluster');
}

function clusterHandlers(member: ClusterMember | undefined): Record<string, ControlHandler> {
  const need = (): ClusterMember => {
    if (member === undefined) throw new Error('this node is not in a cluster: start it with --cluster-port N to found one, or with --join to join one');
    return member;
  };
  return {
    clusterToken: async () => ({ token: need().issueToken() }),
    clusterStatus: async () => need().status(),
    clusterRemove: async (params) => {
      const id = (params as { nodeId?: unknown } | null)?.nodeId;
      if (typeof id !== 'string') throw new Error('clusterRemove needs { nodeId: string }');
      need().remove(id);
      return { removing: id };
    },
  };
}

function nodeStatus(deps: { nodeId: string; store: ConfigStore; listeners: SiteReconciler; member: ClusterMember | undefined }): () => NodeStatus {
  const startedAt = Date.now();
  return () => {
    const listening = deps.listeners.listening();
    return {
      version: SOFTWARE,
      nodeId: deps.nodeId,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      configIndex: deps.store.state().appliedIndex,
      sites: deps.store.current().sites().map((site) => ({
        id: site.id,
        enabled: site.enabled,
        listeners: listening.filter((l) => l.siteId === site.id).map((l) => `${l.label} ${hostPort(l)}`),
      })),
      ...(deps.member === undefined ? {} : { cluster: deps.member.status() }),
    };
  };
}

/**
 * Site operations the admin API and the CLI share. A restart is node-local: it rebinds this
 * node's listeners of the site (the operator restarts what misbehaves here); a lasting stop is
 * `enabled: false` in the replicated config, which every node follows.
 */
function siteControl(deps: { store: ConfigStore; secrets: SecretBox; listeners: SiteReconciler; logger: Logger }): SiteControl {
  return {
    newHostKeys: (siteId) => newHostKeys(deps.secrets, siteId),
    restart: async (siteId) => {
      const view = deps.store.current();
      if (view.site(siteId) === undefined) throw new Error(`no site "${siteId}"; \`ferry site list\` lists them`);
      const listening = await deps.listeners.restart(view, siteId);
      deps.logger.info({ siteId, listeners: listening }, 'site restarted');
      return listening.map((l) => `${l.label} ${hostPort(l)}`);
    },
  };
}

/** `ferry status` and `ferry site list|show|restart`: what GET /api/v1/sa/status and the vsites routes show. */
function statusHandlers(status: () => NodeStatus, sites: SiteControl, store: ConfigStore): Record<string, ControlHandler> {
  const siteId = (params: unknown): string => {
    const id = (params as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') throw new Error('missing or invalid parameter "id"');
    return id;
  };
  return {
    status: async () => status(),
    siteList: async () => {
      const view = store.current();
      return status().sites.map((s) => ({ ...s, name: view.site(s.id)?.name ?? s.id }));
    },
    siteShow: async (params) => {
      const id = siteId(params);
      const site = store.current().site(id);
      if (site === undefined) throw new Error(`no site "${id}"; \`ferry site list\` lists them`);
      const listeners = status().sites.find((s) => s.id === id)?.listeners ?? [];
      // The private host keys stay sealed in the node: only their public halves are shown.
      return { ...site, hostKeys: site.hostKeys.map((key) => ({ algorithm: key.algorithm, publicKey: key.publicKey })), listeners };
    },
    siteRestart: async (params) => {
      const id = siteId(params);
      return { id, listeners: await sites.restart(id) };
    },
  };
}

/** The admin API on its run binding: --admin-host/--admin-port, else admin-http.json, else --host and 6443. */
async function startAdminApi(
  options: NodeOptions,
  deps: { store: ConfigStore; secrets: SecretBox; logger: Logger; setup: SetupCodes; status: () => NodeStatus; backupDeps: BackupDeps; sites: SiteControl; metrics: NodeMetrics },
): Promise<{ close(): Promise<void>; tls: { validTo: number } }> {
  const stored = await loadAdminHttpSettings(options.dataDir);
  const bind = {
    host: options.adminHost ?? stored?.host ?? options.host ?? DEFAULT_ADMIN_HOST,
    port: options.adminPort ?? stored?.port ?? DEFAULT_ADMIN_PORT,
  };
  const admin = await startAdminHttp({
    dataDir: options.dataDir,
    ...deps,
    bind,
    names: options.host === undefined ? [] : [options.host],
    backup: (passphrase) => makeBackup(deps.backupDeps, passphrase),
    restore: (archive, actor) => restoreRunning(deps.backupDeps, archive, actor),
  });
  // The code comes first: whoever waits for the listening line has it by then.
  if (deps.store.current().superAdmins().length === 0) {
    const issued = deps.setup.issue();
    options.out(`setup code: ${issued.code} (valid 5 minutes; POST it to /api/v1/setup or run \`ferry setup\`; \`ferry genssc\` makes a new one)`);
  }
  options.out(`listening https-admin ${hostPort(admin.server.address)}`);
  deps.logger.info({ address: admin.server.address }, 'admin API listening');
  return { close: () => admin.server.close(), tls: admin.tls };
}

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  prepareDataDir(options.dataDir);
  const lock = lockDataDir(options.dataDir);
  const appLog = openAppLog({ logDir: path.join(options.dataDir, 'logs') });
  const logger = appLog.logger;
  // Closed in reverse order by stop(); the log and the lock outlive them all.
  const cleanups: (() => Promise<void> | void)[] = [];
  // A bug that escapes every handler leaves the process in an unknown state: record why in the
  // node's own log (not only on a terminal nobody watches), then exit for the supervisor
  // (systemd Restart=on-failure) to start a clean process.
  const crash = (error: unknown) => {
    logger.fatal({ err: error }, 'unhandled error; the node exits and should be restarted by its supervisor');
    void appLog.flush().finally(() => {
      lock.release();
      process.exit(70);
    });
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  let started = false;
  const stop = async (reason = 'requested') => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.error({ err: error }, 'error while stopping');
      }
    }
    if (started) logger.info({ reason }, 'node stopped');
    started = false;
    await appLog.flush();
    lock.release();
  };
  try {
    const nodeId = await nodeIdForRun(options);
    const member = await startClusterMember(options, nodeId, logger);
    if (member !== undefined) {
      cleanups.push(() => member.close());
      options.out(`listening cluster ${member.address}`);
    }
    const joined = member !== undefined && options.join !== undefined ? await member.join(options.join.member, options.join.token) : undefined;
    if (joined !== undefined) logger.info({ nodeId, member: options.join?.member }, 'joined the cluster as a learner; catching up');

    const masterKey = await loadOrCreateMasterKey(options.dataDir);
    const secrets = createSecretBox(masterKey);
    if (await migrateLegacyNodeId(configLogDir(options.dataDir), nodeId)) {
      logger.info({ nodeId, legacyId: LEGACY_NODE_ID }, 'config log migrated: this node is now named by its own id instead of the legacy "local"');
    }
    const store = await openNodeStore(options.dataDir, nodeId, member, joined !== undefined, logger);
    cleanups.push(() => store.close());
    if (joined !== undefined) await catchUp(store, joined.commit, logger);

    const pending = isFirstStart(options.dataDir) ? await takePendingRestore(options.dataDir) : undefined;
    if (pending !== undefined) {
      // `ferry restore --data DIR` prepared this directory: the backup replaces the default site.
      const outcome = await store.propose({ ...envelope('cli:restore'), type: 'state.restore', state: pending.state });
      if (!outcome.ok) throw new Error(`the pending restore does not apply: ${outcome.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
      await markInitialized(options.dataDir);
      await pending.done();
      options.out(`first start: configuration restored from the backup (${Object.keys(pending.state.sites).length} sites, ${Object.keys(pending.state.users).length} users)`);
      logger.info({ dataDir: options.dataDir }, 'data directory initialized from a backup');
    } else if (isFirstStart(options.dataDir)) {
      // The new site stores the documented default binding; flags only override it for this run.
      const first = await planFirstStart({ dataDir: options.dataDir, host: DEFAULT_SSH_HOST, port: DEFAULT_SSH_PORT, secrets, ftpBindings: firstStartFtpBindings(options) });
      const host = options.host ?? DEFAULT_SSH_HOST;
      for (const command of first.commands) await store.propose(command);
      const passwd = (options.commandLine ?? ((command, args) => ['ferry', command, '--data', options.dataDir, ...args].join(' ')))(
        'passwd',
        ['--vsite', DEFAULT_SITE_ID, '--username', first.username],
      );
      const file = await writeInitialCredentials(options.dataDir, first, host === '0.0.0.0' ? '127.0.0.1' : host, passwd);
      await markInitialized(options.dataDir);
      options.out(`first start: created site "${DEFAULT_SITE_ID}" and user "${first.username}" with password ${first.password}`);
      options.out(`  (also in ${file}; shown once; change it with \`${passwd}\`)`);
      logger.info({ dataDir: options.dataDir }, 'data directory initialized');
    }

    cleanups.push(watchDiskTargets(store, logger));

    const transferLog = openW3cTransferLog({
      dir: path.join(options.dataDir, 'logs', 'transfers'),
      software: SOFTWARE,
      journal: path.join(options.dataDir, 'logs', 'open-transfers.journal'),
      onError: (error) => logger.warn({ err: error }, 'transfer log write failed; lines are lost until writes succeed again'),
    });
    cleanups.push(() => transferLog.close());
    if (transferLog.recovered > 0) logger.warn({ transfers: transferLog.recovered }, 'transfers cut off when the node last stopped were logged as incomplete');

    // One registry for the node: a per-user session limit counts across sites' listeners.
    const sessions = new SessionRegistry();
    // One Protector for the node: strikes and automatic blocks are node-wide, across listeners.
    // Sites gain their protector settings and lists with the config model; until then, defaults.
    const protector = new Protector({ site: (id) => store.current().site(id) as ProtectedSite | undefined, now: Date.now, logger: logger.child({ component: 'protector' }) });
    const metrics = new NodeMetrics({ connections: () => protector.openBySite(), sessions: () => sessions.list().length, configIndex: () => store.state().appliedIndex });
    // One back end per VFS profile for every site of the node; closed after the listeners.
    const drivers = new DriverPool({ openSecret: (sealed, context) => secrets.openString(sealed, context), log: logger });
    cleanups.push(() => drivers.close());
    for (const site of store.current().sites()) {
      if (!site.enabled) continue;
      const { bindings, notes } = bindingsForRun(site, options);
      for (const note of notes) options.out(note);
      if (notes.length > 0) logger.info({ siteId: site.id, stored: site.bindings, bindings }, 'start flags override stored bindings for this run');
    }
    const notifier = new Notifier(store, logger.child({ component: 'notifications' }));
    const listeners = new SiteReconciler({
      onRestart: (siteId) => void notifier.notify('site-restarted', `site ${siteId}`, `site ${siteId} was restarted on node ${nodeId} with its new bindings or settings`),
      start: (site, binding) => startListener(site, binding, { store, secrets, drivers, logger, transferLog, sessions, protector, dataDir: options.dataDir, metrics }),
      bindingsFor: (site) => bindingsForRun(site, options).bindings,
      out: options.out,
      logger,
    });
    cleanups.push(() => listeners.close());
    await listeners.reconcile(store.current(), { strict: true });
    // From now on a site added, changed or removed is followed without a restart.
    cleanups.push(store.subscribe((view) => void listeners.reconcile(view)));

    const setup = new SetupCodes();
    const status = nodeStatus({ nodeId, store, listeners, member });
    const backupDeps: BackupDeps = { store, secrets, masterKey, software: SOFTWARE, logger };
    const sites = siteControl({ store, secrets, listeners, logger });
    const admin = await startAdminApi(options, { store, secrets, logger, setup, status, backupDeps, sites, metrics });
    cleanups.push(() => admin.close());
    const checkCertificate = () => void notifier.certificate(`node ${nodeId} admin HTTPS certificate`, admin.tls.validTo);
    checkCertificate();
    const certificateTimer = setInterval(checkCertificate, 12 * 60 * 60 * 1000);
    certificateTimer.unref();
    cleanups.push(() => clearInterval(certificateTimer));

    const control = await startControlServer(
      options.dataDir,
      { ...controlHandlers({ store, logger, secrets }), ...adminHandlers({ store, logger, setup, dataDir: options.dataDir }), ...backupHandlers(backupDeps),
        clearNotifications: async () => {
          const count = store.current().notifications().length;
          const outcome = await proposer(store)({ type: 'notifications.clear' }, 'cli:dbcmd');
          if (!outcome.ok) throw new Error(outcome.kind === 'unavailable' ? outcome.message : outcome.errors.map((e) => e.message).join('; '));
          return { deleted: count };
        },
        ...clusterHandlers(member), ...statusHandlers(status, sites, store) },
      logger,
    );
    cleanups.push(() => control.close());
    logger.info({ dataDir: options.dataDir, nodeId }, 'node started');
    started = true;
    return { stop };
  } catch (error) {
    // The CLI prints the message as one line; the stack is for the log file.
    appLog.fileLogger.error({ err: error }, 'start failed');
    await stop();
    throw error;
  }
}
