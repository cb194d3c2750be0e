// Node-to-node messages over mutual TLS 1.3. Each node listens on its cluster port and dials
// every peer it has to talk to; a connection carries frames one way (the dialler's messages),
// so there is no request/response pairing to get wrong. Both ends present certificates of the
// cluster CA; the listener binds an inbound connection to the node id its certificate names and
// drops a frame that claims another sender. A connection without a client certificate may send
// exactly one frame, a join request, answered by the join handler (cluster/join).
//
// Per peer there are two bounded queues: small Raft messages, and the parts of large frames (a
// snapshot is cut into parts no bigger than PART_BYTES). Parts are written only while the
// small queue is empty and the socket is not backed up, so heartbeats and votes are never
// stuck behind a snapshot. A full queue drops (Raft tolerates loss) and reports the peer
// unreachable so the leader stops pipelining to it.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import type { Message, NodeId } from '../raft/types.ts';
import { encodeFrame, FrameReader, fromWire, toWire } from './codec.ts';
import type { Frame } from './codec.ts';

export const PART_BYTES = 256 * 1024;
const SMALL_QUEUE = 4096;
const MAX_ASSEMBLY = 512 * 1024 * 1024;
const ASSEMBLY_TIMEOUT_MS = 120_000;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

export interface TlsMaterial {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface JoinRequest {
  readonly token: string;
  readonly nodeId: string;
  readonly nodeAddr: string;
  /** The joiner's clock minus ours, in ms (one way: latency makes it slightly negative). */
  readonly skewMs: number;
  readonly remoteAddress: string;
}

export type JoinAnswer = { ok: true; grant: unknown } | { ok: false; reason: string };

export interface TransportOptions {
  readonly nodeId: NodeId;
  readonly host: string;
  readonly port: number;
  /** The address peers dial (host:port); default: advertiseHost (or host) and the bound port. */
  readonly advertise?: string | undefined;
  readonly advertiseHost?: string;
  /** Absent until a joining node has its certificate (setTls): until then no handshake succeeds. */
  readonly tls?: TlsMaterial;
  /** Where a peer can be reached; updated as members come and go. */
  readonly addressOf: (id: NodeId) => string | undefined;
  readonly onMessage: (m: Message) => void;
  /** A peer's advertised address, learned from its frames. */
  readonly onPeerAddress?: (id: NodeId, addr: string) => void;
  readonly onUnreachable?: (id: NodeId) => void;
  readonly onSnapshotSent?: (id: NodeId, ok: boolean) => void;
  readonly onJoin?: (request: JoinRequest) => Promise<JoinAnswer>;
  readonly log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
  readonly now?: () => number;
}

export interface PeerHealth {
  readonly connected: boolean;
  /** Their clock minus ours as last seen in one of their frames (ms), if any. */
  readonly skewMs: number | undefined;
  readonly lastHeardMs: number | undefined;
}

interface Assembly {
  parts: string[];
  received: number;
  bytes: number;
  timer: NodeJS.Timeout;
}

export class Transport {
  readonly #o: TransportOptions;
  readonly #now: () => number;
  readonly #server: tls.Server;
  readonly #peers = new Map<NodeId, Peer>();
  readonly #heard = new Map<NodeId, { skewMs: number; at: number }>();
  readonly #inbound = new Set<tls.TLSSocket>();
  #advertise = '';
  #closed = false;
  #tls: TlsMaterial | undefined;

  private constructor(o: TransportOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#tls = o.tls;
    const material = o.tls === undefined ? {} : { key: o.tls.key, cert: o.tls.cert, ca: o.tls.ca };
    this.#server = tls.createServer({ ...material, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (socket) => this.#accept(socket));
    this.#server.on('tlsClientError', () => undefined);
  }

  /** Installs this node's certificate (a joining node gets it once admitted). */
  setTls(material: TlsMaterial): void {
    this.#tls = material;
    this.#server.setSecureContext({ key: material.key, cert: material.cert, ca: material.ca });
  }

  get tls(): TlsMaterial | undefined {
    return this.#tls;
  }

  static async listen(o: TransportOptions): Promise<Transport> {
    const t = new Transport(o);
    await new Promise<void>((resolve, reject) => {
      t.#server.once('error', reject);
      t.#server.listen(o.port, o.host, () => {
        t.#server.off('error', reject);
        resolve();
      });
    });
    const port = (t.#server.address() as net.AddressInfo).port;
    const host = o.advertiseHost ?? o.host;
    t.#advertise = o.advertise ?? (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
    return t;
  }

  get address(): string {
    return this.#advertise;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Queues each message for its peer; never blocks, never throws. */
  send(messages: readonly Message[]): void {
    if (this.#closed) return;
    for (const m of messages) {
      if (m.to === this.#o.nodeId) continue;
      let peer = this.#peers.get(m.to);
      if (peer === undefined) {
        peer = new Peer(this, m.to);
        this.#peers.set(m.to, peer);
      }
      peer.enqueue(m);
    }
  }

  health(id: NodeId): PeerHealth {
    const heard = this.#heard.get(id);
    return { connected: this.#peers.get(id)?.connected ?? false, skewMs: heard?.skewMs, lastHeardMs: heard === undefined ? undefined : this.#now() - heard.at };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#peers.values()) p.close();
    for (const s of this.#inbound) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---- shared with Peer ----

  get closed(): boolean {
    return this.#closed;
  }

  get options(): TransportOptions {
    return this.#o;
  }

  header(): { clock: number; addr: string } {
    return { clock: this.#now(), addr: this.#advertise };
  }

  log(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void {
    this.#o.log?.(level, message, fields);
  }

  // ---- inbound ----

  #accept(socket: tls.TLSSocket): void {
    if (this.#closed) return void socket.destroy();
    this.#inbound.add(socket);
    socket.on('close', () => this.#inbound.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    const peerId = socket.authorized ? (socket.getPeerCertificate().subject?.CN as string | undefined) : undefined;
    const reader = new FrameReader();
    const assemblies = new Map<string, Assembly>();
    let joinAsked = false;
    socket.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        this.log('warn', 'cluster: dropped a connection that sent a malformed frame', { peer: peerId, remote: socket.remoteAddress, error: String(error) });
        return void socket.destroy();
      }
      for (const raw of frames) {
        const frame = raw as Frame;
        if (typeof frame !== 'object' || frame === null || typeof frame.kind !== 'string') continue;
        if (peerId === undefined) {
          // No cluster certificate: one join request, then nothing else.
          if (frame.kind !== 'join' || joinAsked) return void socket.destroy();
          joinAsked = true;
          void this.#answerJoin(socket, frame);
          continue;
        }
        this.#heardFrom(peerId, frame);
        if (frame.kind === 'raft') this.#deliver(peerId, frame.msg);
        else if (frame.kind === 'part') this.#assemble(peerId, frame, assemblies);
      }
    });
    socket.on('close', () => {
      for (const a of assemblies.values()) clearTimeout(a.timer);
    });
  }

  #heardFrom(peerId: NodeId, frame: Frame): void {
    if (typeof frame.clock === 'number' && Number.isFinite(frame.clock)) this.#heard.set(peerId, { skewMs: frame.clock - this.#now(), at: this.#now() });
    if (typeof frame.addr === 'string' && frame.addr !== '') this.#o.onPeerAddress?.(peerId, frame.addr);
  }

  #deliver(peerId: NodeId, wire: unknown): void {
    const m = fromWire(wire);
    // The certificate says who is speaking; a frame claiming another sender is dropped.
    if (m === undefined || m.from !== peerId || m.to !== this.#o.nodeId) return;
    this.#o.onMessage(m);
  }

  #assemble(peerId: NodeId, frame: Extract<Frame, { kind: 'part' }>, assemblies: Map<string, Assembly>): void {
    const { id, seq, total, data } = frame;
    if (typeof id !== 'string' || !Number.isSafeInteger(seq) || !Number.isSafeInteger(total) || typeof data !== 'string' || seq < 0 || seq >= total) return;
    let a = assemblies.get(id);
    if (a === undefined) {
      a = { parts: new Array<string>(total), received: 0, bytes: 0, timer: setTimeout(() => assemblies.delete(id), ASSEMBLY_TIMEOUT_MS) };
      a.timer.unref();
      assemblies.set(id, a);
    }
    if (a.parts.length !== total || a.parts[seq] !== undefined) return;
    a.parts[seq] = data;
    a.received++;
    a.bytes += data.length;
    if (a.bytes > MAX_ASSEMBLY) {
      clearTimeout(a.timer);
      assemblies.delete(id);
      return;
    }
    if (a.received < total) return;
    clearTimeout(a.timer);
    assemblies.delete(id);
    try {
      const whole = Buffer.concat(a.parts.map((p) => Buffer.from(p, 'base64'))).toString('utf8');
      const inner = JSON.parse(whole) as Frame;
      if (inner.kind === 'raft') this.#deliver(peerId, inner.msg);
    } catch {
      this.log('warn', 'cluster: dropped a large frame that did not reassemble', { peer: peerId });
    }
  }

  async #answerJoin(socket: tls.TLSSocket, frame: Extract<Frame, { kind: 'join' }>): Promise<void> {
    const reply = (f: Frame): void => {
      socket.end(encodeFrame(f));
    };
    const handler = this.#o.onJoin;
    if (handler === undefined || typeof frame.token !== 'string' || typeof frame.nodeId !== 'string' || typeof frame.nodeAddr !== 'string') {
      return reply({ ...this.header(), kind: 'join-refused', reason: 'this node does not accept joins' });
    }
    const skewMs = typeof frame.clock === 'number' ? frame.clock - this.#now() : Number.NaN;
    try {
      const answer = await handler({ token: frame.token, nodeId: frame.nodeId, nodeAddr: frame.nodeAddr, skewMs, remoteAddress: socket.remoteAddress ?? '' });
      reply(answer.ok ? { ...this.header(), kind: 'join-ok', grant: answer.grant } : { ...this.header(), kind: 'join-refused', reason: answer.reason });
    } catch (error) {
      reply({ ...this.header(), kind: 'join-refused', reason: `the member failed to process the join: ${String(error)}` });
    }
  }
}

/** The outbound side towards one peer: a TLS connection, its queues, and reconnects. */
class Peer {
  readonly #t: Transport;
  readonly #id: NodeId;
  readonly #small: Buffer[] = [];
  /** Large frames in parts; each entry is one frame's parts, with its sent report. */
  readonly #bulk: { parts: Buffer[]; snapshotTo: NodeId | undefined }[] = [];
  #socket: tls.TLSSocket | undefined;
  #connected = false;
  #backoff = RECONNECT_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(t: Transport, id: NodeId) {
    this.#t = t;
    this.#id = id;
  }

  get connected(): boolean {
    return this.#connected;
  }

  enqueue(m: Message): void {
    const frame = encodeFrame({ ...this.#t.header(), kind: 'raft', msg: toWire(m) });
    if (frame.byteLength <= PART_BYTES) {
      if (this.#small.length >= SMALL_QUEUE) {
        this.#t.options.onUnreachable?.(this.#id);
        return;
      }
      this.#small.push(frame);
    } else {
      if (this.#bulk.length >= 2) {
        // A newer snapshot will be asked for; this one is dropped rather than queued behind.
        if (m.type === 'snapshot') this.#t.options.onSnapshotSent?.(this.#id, false);
        return;
      }
      const body = frame.subarray(4);
      const id = randomBytes(8).toString('hex');
      const total = Math.ceil(body.byteLength / (PART_BYTES / 2));
      const parts: Buffer[] = [];
      for (let seq = 0; seq < total; seq++) {
        const data = body.subarray(seq * (PART_BYTES / 2), (seq + 1) * (PART_BYTES / 2)).toString('base64');
        parts.push(encodeFrame({ ...this.#t.header(), kind: 'part', id, seq, total, data }));
      }
      this.#bulk.push({ parts, snapshotTo: m.type === 'snapshot' ? this.#id : undefined });
    }
    this.#pump();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#socket?.destroy();
  }

  #connect(): void {
    if (this.#closed || this.#t.closed || this.#socket !== undefined) return;
    const addr = this.#t.options.addressOf(this.#id);
    const parsed = addr === undefined ? undefined : splitHostPort(addr);
    if (parsed === undefined) {
      this.#dropAll();
      this.#t.options.onUnreachable?.(this.#id);
      return;
    }
    const material = this.#t.tls;
    if (material === undefined) {
      this.#dropAll();
      return;
    }
    const socket = tls.connect({
      host: parsed.host,
      port: parsed.port,
      ca: material.ca,
      cert: material.cert,
      key: material.key,
      minVersion: 'TLSv1.3',
      // The CA is ours alone, so "signed by it and naming the peer's id" is the identity.
      checkServerIdentity: (_host, cert) => (cert.subject?.CN === this.#id ? undefined : new Error(`the node at ${addr} is ${String(cert.subject?.CN)}, not ${this.#id}`)),
    });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      this.#connected = true;
      this.#backoff = RECONNECT_MIN_MS;
      this.#pump();
    });
    socket.on('drain', () => this.#pump());
    socket.on('data', () => undefined); // the peer sends nothing back on this connection
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const wasConnected = this.#connected;
      this.#socket = undefined;
      this.#connected = false;
      if (!wasConnected) this.#t.options.onUnreachable?.(this.#id);
      for (const b of this.#bulk.splice(0)) if (b.snapshotTo !== undefined) this.#t.options.onSnapshotSent?.(b.snapshotTo, false);
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#t.closed || this.#timer !== undefined) return;
    if (this.#small.length === 0 && this.#bulk.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect();
    }, this.#backoff);
    this.#timer.unref();
    this.#backoff = Math.min(RECONNECT_MAX_MS, this.#backoff * 2);
  }

  #pump(): void {
    const socket = this.#socket;
    if (socket === undefined) return this.#connect();
    if (!this.#connected) return;
    while (!socket.writableNeedDrain) {
      const small = this.#small.shift();
      if (small !== undefined) {
        socket.write(small);
        continue;
      }
      const bulk = this.#bulk[0];
      if (bulk === undefined) return;
      const part = bulk.parts.shift() as Buffer;
      const done = bulk.parts.length === 0;
      if (done) this.#bulk.shift();
      socket.write(part, (error) => {
        if (done && bulk.snapshotTo !== undefined) this.#t.options.onSnapshotSent?.(bulk.snapshotTo, error == null);
      });
    }
  }

  #dropAll(): void {
    this.#small.length = 0;
    for (const b of this.#bulk.splice(0)) if (b.snapshotTo !== undefined) this.#t.options.onSnapshotSent?.(b.snapshotTo, false);
  }
}

/**
 * Whether the server's chain ends in the CA the token pins, and its certificate is signed by
 * that CA (the handshake proved it holds the certificate's key).
 */
function presentsCluster(socket: tls.TLSSocket, caFingerprint: string): boolean {
  const leaf = socket.getPeerCertificate(true);
  if (leaf.raw === undefined) return false;
  let root = leaf;
  for (let i = 0; i < 4 && root.issuerCertificate !== undefined && root.issuerCertificate.raw !== undefined && root.issuerCertificate !== root; i++) root = root.issuerCertificate;
  if (createHash('sha256').update(root.raw).digest('hex') !== caFingerprint.toLowerCase()) return false;
  try {
    return new X509Certificate(leaf.raw).verify(new X509Certificate(root.raw).publicKey);
  } catch {
    return false;
  }
}

export function splitHostPort(addr: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+)\]?:(\d{1,5})$/.exec(addr);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] as string, port };
}

/** Asks a member to let this node join: one frame out, one back. The CA is pinned by fingerprint. */
export function requestJoin(options: {
  memberAddr: string;
  token: string;
  nodeId: string;
  nodeAddr: string;
  /** SHA-256 (hex) of the cluster CA's DER, from the join token. */
  caFingerprint: string;
  timeoutMs?: number;
}): Promise<{ ok: true; grant: unknown } | { ok: false; reason: string }> {
  const target = splitHostPort(options.memberAddr);
  if (target === undefined) return Promise.resolve({ ok: false, reason: `--join ${options.memberAddr}: expected HOST:PORT` });
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: { ok: true; grant: unknown } | { ok: false; reason: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    // Verified below against the token's CA fingerprint, not against the system's roots.
    const socket = tls.connect({ host: target.host, port: target.port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    const timer = setTimeout(() => finish({ ok: false, reason: `no answer from ${options.memberAddr} within ${(options.timeoutMs ?? 15000) / 1000} s` }), options.timeoutMs ?? 15000);
    socket.on('error', (error) => finish({ ok: false, reason: `cannot reach ${options.memberAddr}: ${error.message}` }));
    socket.once('secureConnect', () => {
      if (!presentsCluster(socket, options.caFingerprint)) return finish({ ok: false, reason: `${options.memberAddr} did not present this cluster's certificate: the token is for another cluster, or someone is in between` });
      socket.write(encodeFrame({ clock: Date.now(), addr: options.nodeAddr, kind: 'join', token: options.token, nodeId: options.nodeId, nodeAddr: options.nodeAddr }));
    });
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        return finish({ ok: false, reason: `malformed answer from ${options.memberAddr}: ${String(error)}` });
      }
      for (const raw of frames) {
        const f = raw as Frame;
        if (f.kind === 'join-ok') return finish({ ok: true, grant: f.grant });
        if (f.kind === 'join-refused') return finish({ ok: false, reason: String(f.reason) });
      }
    });
    socket.on('close', () => finish({ ok: false, reason: `${options.memberAddr} closed the connection without answering` }));
  });
}
