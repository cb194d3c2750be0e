// A node as a cluster member: its certificates and known peers under <data>/cluster, the
// transport that carries its Raft messages, join tokens and the join handshake, and the
// status the CLI shows. A node without a cluster port is a cluster of one and none of this
// runs (DESIGN.md: the same replica either way).
//
// Files (all 0600 in a 0700 directory): ca.pem and ca.key (the cluster CA: every member holds
// it so any member can admit a new node), node.pem and node.key (this node's certificate),
// cluster.json (cluster id and this node's cluster port), peers.json (last known addresses).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import type { ConfChange } from '../../cluster/raft/confchange.ts';
import type { ConfState, Message, NodeId } from '../../cluster/raft/types.ts';
import type { RaftReplica } from '../../cluster/replica/raft-replica.ts';
import { certificateFingerprint, createClusterCa, issueNodeCertificate } from '../../cluster/transport/pki.ts';
import type { KeyAndCert } from '../../cluster/transport/pki.ts';
import { requestJoin, Transport } from '../../cluster/transport/transport.ts';
import type { JoinAnswer, JoinRequest } from '../../cluster/transport/transport.ts';
import { MASTER_KEY_FILE } from '../config/secrets.ts';
import type { Logger } from '../logging/app-log.ts';
import { markInitialized } from './bootstrap.ts';
import { isValidNodeId, nodeIdFile } from './node-id.ts';

/** Default limit on a joining node's clock skew (the clock guard). */
export const MAX_CLOCK_SKEW_MS = 5_000;
const TOKEN_PREFIX = 'ferry-join-1.';
const TOKEN_TTL_MS = 60 * 60 * 1000;

export function clusterDir(dataDir: string): string {
  return path.join(dataDir, 'cluster');
}

export interface ClusterFiles {
  readonly clusterId: string;
  readonly ca: KeyAndCert;
  readonly node: KeyAndCert;
  /** This node's cluster port as last started (a later start without --cluster-port reuses it). */
  readonly port: number;
}

async function writePrivate(file: string, content: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, file);
}

export function isClusterMember(dataDir: string): boolean {
  return existsSync(path.join(clusterDir(dataDir), 'cluster.json'));
}

export async function loadClusterFiles(dataDir: string): Promise<ClusterFiles> {
  const dir = clusterDir(dataDir);
  const read = (name: string) => readFile(path.join(dir, name), 'utf8');
  const meta = JSON.parse(await read('cluster.json')) as { clusterId: string; port: number };
  return { clusterId: meta.clusterId, port: meta.port, ca: { cert: await read('ca.pem'), key: await read('ca.key') }, node: { cert: await read('node.pem'), key: await read('node.key') } };
}

async function saveClusterFiles(dataDir: string, files: ClusterFiles): Promise<void> {
  const dir = clusterDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writePrivate(path.join(dir, 'ca.pem'), files.ca.cert);
  await writePrivate(path.join(dir, 'ca.key'), files.ca.key);
  await writePrivate(path.join(dir, 'node.pem'), files.node.cert);
  await writePrivate(path.join(dir, 'node.key'), files.node.key);
  // Written last: its presence says the rest is complete.
  await writePrivate(path.join(dir, 'cluster.json'), `${JSON.stringify({ clusterId: files.clusterId, port: files.port })}\n`);
}

/** The first node of a cluster creates the CA and its own certificate (once). */
export async function foundCluster(dataDir: string, nodeId: NodeId, port: number): Promise<ClusterFiles> {
  if (isClusterMember(dataDir)) {
    const files = await loadClusterFiles(dataDir);
    if (files.port !== port) {
      const updated = { ...files, port };
      await saveClusterFiles(dataDir, updated);
      return updated;
    }
    return files;
  }
  const clusterId = randomBytes(8).toString('hex');
  const ca = createClusterCa(clusterId);
  const files = { clusterId, ca, node: issueNodeCertificate(ca, nodeId), port };
  await saveClusterFiles(dataDir, files);
  return files;
}

// ---- join tokens ----

interface TokenBody {
  /** A member's cluster address. */
  m: string;
  /** The one-time secret. */
  s: string;
  /** The cluster CA's fingerprint (SHA-256 of its DER, hex). */
  f: string;
}

export function encodeToken(body: TokenBody): string {
  return TOKEN_PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeToken(token: string): TokenBody | undefined {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  try {
    const body = JSON.parse(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8')) as Partial<TokenBody>;
    if (typeof body.m !== 'string' || typeof body.s !== 'string' || typeof body.f !== 'string') return undefined;
    return body as TokenBody;
  } catch {
    return undefined;
  }
}

/** What a member hands a node it admits. */
interface JoinGrant {
  clusterId: string;
  ca: KeyAndCert;
  node: KeyAndCert;
  /** base64 of the master key, so the joiner can open the config's sealed secrets. */
  masterKey: string;
  peers: Record<NodeId, string>;
  /** The member's commit index: the joiner serves once it has applied this far. */
  commit: number;
}

function isGrant(v: unknown): v is JoinGrant {
  const g = v as Partial<JoinGrant> | null;
  return typeof g === 'object' && g !== null && typeof g.clusterId === 'string' && typeof g.masterKey === 'string' && typeof g.commit === 'number' &&
    typeof g.ca?.cert === 'string' && typeof g.ca.key === 'string' && typeof g.node?.cert === 'string' && typeof g.node.key === 'string' && typeof g.peers === 'object' && g.peers !== null;
}

export class JoinRefusedError extends Error {
  constructor(reason: string) {
    super(`joining the cluster failed: ${reason}`);
    this.name = 'JoinRefusedError';
  }
}

/**
 * First start of a joining node: asks the member named by --join (the token pins its CA),
 * then writes what the grant holds (master key, node id, certificates, peers) before anything
 * else is created in the data directory. Returns the commit index to catch up to.
 */
export async function joinCluster(options: { dataDir: string; memberAddr: string; token: string; nodeId: NodeId; nodeAddr: string; port: number }): Promise<{ commit: number; peers: Record<NodeId, string> }> {
  const body = decodeToken(options.token);
  if (body === undefined) throw new JoinRefusedError('--token is not a Ferry join token (it starts with ferry-join-1.); print one with `ferry cluster token` on a member');
  if (!isValidNodeId(options.nodeId)) throw new JoinRefusedError(`--node-id ${JSON.stringify(options.nodeId)}: use 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit`);
  const answer = await requestJoin({ memberAddr: options.memberAddr, token: body.s, nodeId: options.nodeId, nodeAddr: options.nodeAddr, caFingerprint: body.f });
  if (!answer.ok) throw new JoinRefusedError(answer.reason);
  if (!isGrant(answer.grant)) throw new JoinRefusedError('the member answered with something that is not a join grant');
  const grant = answer.grant;
  await writePrivate(path.join(options.dataDir, MASTER_KEY_FILE), Buffer.from(grant.masterKey, 'base64'));
  await writePrivate(nodeIdFile(options.dataDir), `${options.nodeId}\n`);
  await saveClusterFiles(options.dataDir, { clusterId: grant.clusterId, ca: grant.ca, node: grant.node, port: options.port });
  await savePeers(options.dataDir, new Map(Object.entries(grant.peers)));
  await markInitialized(options.dataDir);
  return { commit: grant.commit, peers: grant.peers };
}

async function loadPeers(dataDir: string): Promise<Map<NodeId, string>> {
  try {
    const raw = JSON.parse(await readFile(path.join(clusterDir(dataDir), 'peers.json'), 'utf8')) as Record<string, unknown>;
    return new Map(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return new Map();
  }
}

async function savePeers(dataDir: string, peers: ReadonlyMap<NodeId, string>): Promise<void> {
  await mkdir(clusterDir(dataDir), { recursive: true, mode: 0o700 });
  await writePrivate(path.join(clusterDir(dataDir), 'peers.json'), `${JSON.stringify(Object.fromEntries(peers), null, 2)}\n`);
}

function tlsMaterial(files: ClusterFiles): { ca: string; cert: string; key: string } {
  // The chain includes the CA so a joining node can pin it by the token's fingerprint.
  return { ca: files.ca.cert, cert: files.node.cert + files.ca.cert, key: files.node.key };
}

/** The address peers can dial for a listen address: a wildcard advertises this host's first LAN IPv4. */
export function advertisedHost(host: string): string {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

// ---- the running member ----

/**
 * How a member looks from here: `ok` (this node), `connected` (our connection to it is up),
 * `heard` (it spoke within 5 s), `idle` (two followers, which have nothing to say to each
 * other), `unreachable`.
 */
export type MemberHealth = 'ok' | 'connected' | 'heard' | 'idle' | 'unreachable';

function healthOf(self: boolean, h: { connected: boolean; lastHeardMs: number | undefined } | undefined, talks: boolean): MemberHealth {
  if (self) return 'ok';
  if (h?.connected === true) return 'connected';
  if (h?.lastHeardMs !== undefined && h.lastHeardMs < 5000) return 'heard';
  return talks ? 'unreachable' : 'idle';
}

export interface MemberStatus {
  readonly id: NodeId;
  readonly role: 'voter' | 'learner';
  readonly address: string | undefined;
  readonly leader: boolean;
  readonly self: boolean;
  readonly match: number | undefined;
  readonly connected: boolean | undefined;
  readonly clockSkewMs: number | undefined;
  readonly lastHeardMs: number | undefined;
  readonly health: MemberHealth;
}

export interface ClusterStatus {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly address: string;
  readonly role: string;
  readonly term: number;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly members: readonly MemberStatus[];
}

/**
 * The transport and the member-side services around one RaftReplica. Created before the
 * replica (the replica's send goes here), attached to it once it is open.
 */
export class ClusterMember {
  readonly nodeId: NodeId;
  readonly #dataDir: string;
  readonly #logger: Logger;
  readonly #peers: Map<NodeId, string>;
  readonly #tokens = new Map<string, number>();
  #files: ClusterFiles | undefined;
  #transport: Transport | undefined;
  #replica: RaftReplica<unknown> | undefined;
  #savingPeers: Promise<void> = Promise.resolve();

  private constructor(dataDir: string, nodeId: NodeId, files: ClusterFiles | undefined, peers: Map<NodeId, string>, logger: Logger) {
    this.#dataDir = dataDir;
    this.nodeId = nodeId;
    this.#files = files;
    this.#peers = peers;
    this.#logger = logger;
  }

  /**
   * Opens the cluster port. A member (cluster files present) listens with its certificate at
   * once; a node about to join listens without one until join() installs it.
   */
  static async listen(options: { dataDir: string; nodeId: NodeId; host: string; port: number; logger: Logger }): Promise<ClusterMember> {
    const member = isClusterMember(options.dataDir);
    const files = member ? await loadClusterFiles(options.dataDir) : undefined;
    const m = new ClusterMember(options.dataDir, options.nodeId, files, await loadPeers(options.dataDir), options.logger);
    m.#transport = await Transport.listen({
      nodeId: options.nodeId,
      host: options.host,
      port: options.port,
      advertise: undefined,
      tls: files === undefined ? undefined : tlsMaterial(files),
      addressOf: (id) => m.#peers.get(id),
      onMessage: (msg) => m.#replica?.step(msg),
      onPeerAddress: (id, addr) => m.#learnAddress(id, addr),
      onUnreachable: (id) => m.#replica?.reportUnreachable(id),
      onSnapshotSent: (id, ok) => m.#replica?.reportSnapshot(id, ok),
      onJoin: (request) => m.#admit(request),
      log: (level, message, fields) => options.logger[level](fields ?? {}, message),
      advertiseHost: advertisedHost(options.host),
    });
    m.#peers.set(options.nodeId, m.#transport.address);
    return m;
  }

  /** First start of a joining node: ask the member, then take the certificate it grants. */
  async join(memberAddr: string, token: string): Promise<{ commit: number }> {
    const joined = await joinCluster({ dataDir: this.#dataDir, memberAddr, token, nodeId: this.nodeId, nodeAddr: this.address, port: this.port });
    this.#files = await loadClusterFiles(this.#dataDir);
    for (const [id, addr] of Object.entries(joined.peers)) if (id !== this.nodeId) this.#peers.set(id, addr);
    this.#transport?.setTls(tlsMaterial(this.#files));
    return { commit: joined.commit };
  }

  get address(): string {
    return this.#transport?.address ?? '';
  }

  get port(): number {
    return this.#transport?.port ?? 0;
  }

  /** The replica's outbound messages. */
  send(messages: readonly Message[]): void {
    this.#transport?.send(messages);
  }

  addressOf(id: NodeId): string | undefined {
    return this.#peers.get(id);
  }

  attach(replica: RaftReplica<unknown>): void {
    this.#replica = replica;
  }

  onConfChange(change: ConfChange, confState: ConfState): void {
    if (change.type !== 'remove-node' && change.context !== undefined && change.context !== '') this.#learnAddress(change.nodeId, change.context);
    this.#logger.info({ change, voters: confState.voters, learners: confState.learners }, 'cluster membership changed');
  }

  /** A one-time join token naming this member; valid for an hour. */
  issueToken(): string {
    const files = this.#requireFiles();
    const secret = randomBytes(24).toString('base64url');
    this.#tokens.set(secret, Date.now() + TOKEN_TTL_MS);
    return encodeToken({ m: this.address, s: secret, f: certificateFingerprint(files.ca.cert) });
  }

  status(): ClusterStatus {
    const replica = this.#replica;
    if (replica === undefined) throw new Error('the cluster replica is not open yet');
    const st = replica.status();
    const ids = [...st.config.voters, ...st.config.learners];
    const members = ids.map((id): MemberStatus => {
      const health = id === this.nodeId ? undefined : this.#transport?.health(id);
      return {
        id,
        role: st.config.voters.includes(id) ? 'voter' : 'learner',
        address: this.#peers.get(id),
        leader: id === st.lead,
        self: id === this.nodeId,
        match: st.progress?.get(id)?.match,
        connected: health?.connected,
        clockSkewMs: health?.skewMs,
        lastHeardMs: health?.lastHeardMs,
        health: healthOf(id === this.nodeId, health, st.role === 'leader' || id === st.lead),
      };
    });
    return { clusterId: this.#requireFiles().clusterId, nodeId: this.nodeId, address: this.address, role: st.role, term: st.term, leader: st.lead, commit: st.commit, applied: st.applied, members };
  }

  /** Proposes the removal of a member (forwarded to the leader). */
  remove(id: NodeId): void {
    const replica = this.#replica;
    if (replica === undefined) throw new Error('the cluster replica is not open yet');
    const { config } = replica.status();
    if (!config.voters.includes(id) && !config.learners.includes(id)) throw new Error(`${id} is not a member (members: ${[...config.voters, ...config.learners].join(', ')})`);
    if (!replica.proposeConfChange({ type: 'remove-node', nodeId: id })) {
      throw new Error('the cluster could not take a membership change now (no leader is known, or another change is still being committed); retry in a few seconds');
    }
  }

  async close(): Promise<void> {
    await this.#transport?.close();
    await this.#savingPeers;
  }

  #requireFiles(): ClusterFiles {
    if (this.#files === undefined) throw new Error('this node has not joined a cluster yet');
    return this.#files;
  }

  #learnAddress(id: NodeId, addr: string): void {
    if (this.#peers.get(id) === addr) return;
    this.#peers.set(id, addr);
    const snapshot = new Map(this.#peers);
    this.#savingPeers = this.#savingPeers.then(() => savePeers(this.#dataDir, snapshot)).catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'cluster: could not save the peer addresses');
    });
  }

  #consumeToken(secret: string): boolean {
    const now = Date.now();
    for (const [known, expires] of this.#tokens) {
      if (expires < now) this.#tokens.delete(known);
    }
    for (const known of this.#tokens.keys()) {
      const a = Buffer.from(known);
      const b = Buffer.from(secret);
      if (a.length === b.length && timingSafeEqual(a, b)) {
        this.#tokens.delete(known);
        return true;
      }
    }
    return false;
  }

  async #admit(request: JoinRequest): Promise<JoinAnswer> {
    const refuse = (reason: string): JoinAnswer => {
      this.#logger.warn({ nodeId: request.nodeId, remote: request.remoteAddress, reason }, 'cluster: join refused');
      return { ok: false, reason };
    };
    const replica = this.#replica;
    if (replica === undefined) return refuse('the member is still starting; retry in a few seconds');
    if (!this.#consumeToken(request.token)) return refuse('the join token is unknown, already used or expired: print a new one with `ferry cluster token` on a member');
    if (!isValidNodeId(request.nodeId)) return refuse(`node id ${JSON.stringify(request.nodeId)} is not valid: use 1-63 letters, digits, dots, dashes or underscores`);
    if (!Number.isFinite(request.skewMs) || Math.abs(request.skewMs) > MAX_CLOCK_SKEW_MS) {
      return refuse(`the joining node's clock is ${Math.round(request.skewMs)} ms off this member's (the limit is ${MAX_CLOCK_SKEW_MS} ms): synchronize both clocks with NTP, then join again`);
    }
    const { config, commit } = replica.status();
    if (config.voters.includes(request.nodeId) || config.learners.includes(request.nodeId)) {
      return refuse(`a member named ${request.nodeId} exists already: choose another --node-id, or remove the old one first (ferry cluster remove ${request.nodeId})`);
    }
    this.#learnAddress(request.nodeId, request.nodeAddr);
    if (!replica.proposeConfChange({ type: 'add-learner', nodeId: request.nodeId, context: request.nodeAddr })) {
      return refuse('the cluster could not take a membership change now (no leader is known, or another change is still being committed); retry in a few seconds');
    }
    const files = this.#requireFiles();
    const masterKey = await readFile(path.join(this.#dataDir, MASTER_KEY_FILE));
    const grant: JoinGrant = {
      clusterId: files.clusterId,
      ca: files.ca,
      node: issueNodeCertificate(files.ca, request.nodeId),
      masterKey: masterKey.toString('base64'),
      peers: Object.fromEntries(this.#peers),
      commit,
    };
    this.#logger.info({ nodeId: request.nodeId, address: request.nodeAddr, remote: request.remoteAddress }, 'cluster: node admitted as a learner');
    return { ok: true, grant };
  }
}
