// A deterministic in-memory Raft cluster: N RawNodes, each on a simulated disk (disk.ts: what
// was written survives a process crash, only what was fsynced survives a power loss), a
// key-value state machine, and one simulated network. Time advances in rounds: every live node
// ticks once, then the messages due are delivered. Each node's Ready is handled exactly as
// cluster/replica must: persist (each part a separate write, fsynced when mustSync), then
// send, then apply, then advance; a crash may fall between any two of those writes. The
// safety checker sees every step.
import { RawNode, decodeConfChange, seededRandom } from '../../../cluster/raft/index.ts';
import type { ConfChange, ConfState, Entry, MemoryStorage, Message, NodeId, RaftConfig, Ready } from '../../../cluster/raft/index.ts';
import { SimDisk } from './disk.ts';
import { KvStore } from './kv.ts';
import type { KvCommand } from './kv.ts';
import { Network } from './network.ts';
import { SafetyChecker } from './safety.ts';

export interface SimOptions {
  seed: number;
  /** All node ids that may ever take part. */
  ids: readonly NodeId[];
  /** The bootstrap voters (the others start empty and must be added). */
  voters: readonly NodeId[];
  electionTicks?: number;
  heartbeatTicks?: number;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Take a snapshot and compact once this many entries are applied past the last one (0: never). */
  snapshotEvery?: number;
  /** Entries kept behind a compaction point, so slightly lagging followers need no snapshot. */
  compactionMargin?: number;
}

export interface SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  /** What the node reads back from its disk. */
  readonly storage: MemoryStorage;
  raft: RawNode | undefined;
  kv: KvStore;
  applied: number;
  /** Membership as of `applied`, recorded with snapshots. */
  confState: ConfState;
  /** ReadIndex answers waiting for the node to apply up to their index. */
  reads: { index: number; context: string }[];
  /** Every committed entry this node applied since it last started, for tests. */
  appliedLog: Entry[];
}

export interface SimHooks {
  onApplied?(node: SimNode, cmd: KvCommand): void;
  onRead?(node: SimNode, context: string): void;
  onCrash?(node: SimNode): void;
  /** After a node's application installed a snapshot from the leader. */
  onSnapshotInstalled?(node: SimNode): void;
}

/**
 * Where the next Ready of a node is cut short. 'mid-persist' crashes after some but not all of
 * its writes; with powerLoss, the writes not yet fsynced are lost too (all or a prefix).
 */
export interface CrashPoint {
  at: 'before-persist' | 'mid-persist' | 'before-send';
  powerLoss: boolean;
  /** With powerLoss: how many unsynced writes survive (default: a random number of them). */
  keep?: number;
}

export class SimCluster {
  readonly opts: Required<SimOptions>;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly net: Network;
  readonly safety = new SafetyChecker();
  readonly rand: () => number;
  hooks: SimHooks = {};
  round = 0;
  /** What the run exercised, so tests can tell a busy schedule from an idle one. */
  readonly stats = { snapshotsInstalled: 0, confChangesApplied: 0, readsServed: 0, crashes: 0, powerLosses: 0, writesLost: 0 };
  /** Ready-handling crash point for the next Ready of a node (set by chaos and scripts). */
  crashPoint = new Map<NodeId, CrashPoint>();
  #restarts = 0;

  constructor(options: SimOptions) {
    this.opts = {
      electionTicks: 10,
      heartbeatTicks: 2,
      maxSizePerMsg: 4096,
      maxInflightMsgs: 16,
      preVote: true,
      checkQuorum: true,
      snapshotEvery: 0,
      compactionMargin: 5,
      ...options,
    };
    const r = seededRandom(options.seed);
    this.rand = r.next;
    this.net = new Network(r.next);
    for (const id of options.ids) {
      const confState: ConfState = options.voters.includes(id) ? { voters: [...options.voters].sort(), learners: [] } : { voters: [], learners: [] };
      const disk = new SimDisk(confState);
      const node: SimNode = {
        id, disk, get storage() { return disk.storage; }, raft: undefined, kv: new KvStore(), applied: 0, confState, reads: [], appliedLog: [],
      };
      this.nodes.set(id, node);
      this.#start(node);
    }
  }

  get ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): RawNode {
    const r = this.node(id).raft;
    if (r === undefined) throw new Error(`node ${id} is down`);
    return r;
  }

  #config(node: SimNode): RaftConfig {
    const o = this.opts;
    return {
      id: node.id,
      storage: node.storage,
      random: seededRandom((o.seed * 7919 + node.id.charCodeAt(node.id.length - 1) * 104729 + this.#restarts++) >>> 0),
      electionTicks: o.electionTicks,
      heartbeatTicks: o.heartbeatTicks,
      maxSizePerMsg: o.maxSizePerMsg,
      maxInflightMsgs: o.maxInflightMsgs,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
    };
  }

  #start(node: SimNode): void {
    // The application restarts from its last snapshot; Raft re-delivers what was committed after.
    const snap = node.storage.snapshot();
    node.kv = KvStore.restore(snap.data);
    node.applied = snap.metadata.index;
    node.confState = snap.metadata.confState;
    node.reads = [];
    node.appliedLog = [];
    node.raft = new RawNode(this.#config(node));
  }

  /**
   * The node's process dies: what it wrote stays on disk. With powerLoss the machine loses
   * power too: of the writes not fsynced, only a prefix of random length survives (`keep`
   * fixes that length, for scripted scenarios).
   */
  crash(id: NodeId, options: { powerLoss?: boolean; keep?: number | undefined } = {}): void {
    const node = this.node(id);
    if (node.raft === undefined) return;
    node.raft = undefined;
    this.stats.crashes++;
    if (options.powerLoss === true) {
      const unsynced = node.disk.unsynced;
      const lostBefore = node.disk.lost;
      node.disk.powerLoss(options.keep ?? Math.floor(this.rand() * (unsynced + 1)));
      this.stats.powerLosses++;
      this.stats.writesLost += node.disk.lost - lostBefore;
    }
    this.hooks.onCrash?.(node);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.raft !== undefined) return;
    this.#start(node);
  }

  isUp(id: NodeId): boolean {
    return this.node(id).raft !== undefined;
  }

  // ---- driving ----------------------------------------------------------------------------

  /** Handles every pending Ready of a node, the way cluster/replica must. */
  process(id: NodeId): void {
    const node = this.node(id);
    for (let guard = 0; node.raft !== undefined && node.raft.hasReady(); guard++) {
      if (guard > 1000) throw new Error(`node ${id} keeps producing Readies`);
      this.#handleReady(node, node.raft, node.raft.ready());
    }
  }

  #handleReady(node: SimNode, raft: RawNode, rd: Ready): void {
    const crash = this.crashPoint.get(node.id);
    if (crash !== undefined) this.crashPoint.delete(node.id);
    const down = (): void => this.crash(node.id, { powerLoss: crash?.powerLoss === true, keep: crash?.keep });
    // The documented order; each part is its own write, so a crash can fall between them.
    const d = node.disk;
    const writes: (() => void)[] = [];
    const snapshot = rd.snapshot;
    if (snapshot !== undefined) writes.push(() => d.applySnapshot(snapshot));
    if (rd.entries.length > 0) writes.push(() => d.append(rd.entries));
    const hardState = rd.hardState;
    if (hardState !== undefined) writes.push(() => d.setHardState(hardState));
    if (crash?.at === 'before-persist') return down();
    if (crash?.at === 'mid-persist' && writes.length > 0) {
      const done = Math.floor(this.rand() * writes.length);
      for (const w of writes.slice(0, done)) w();
      return down();
    }
    for (const w of writes) w();
    if (rd.mustSync) d.sync();
    this.safety.onPersisted(node.id, rd, raft);
    if (crash !== undefined) return down();
    for (const m of rd.messages) this.net.send(m, this.round);
    if (rd.snapshot !== undefined) this.#installSnapshot(node, rd);
    for (const e of rd.committedEntries) this.#apply(node, e);
    for (const rs of rd.readStates) node.reads.push(rs);
    raft.advance();
    this.#serveReads(node);
    this.#maybeCompact(node);
  }

  #installSnapshot(node: SimNode, rd: Ready): void {
    const snap = rd.snapshot;
    if (snap === undefined) return;
    node.kv = KvStore.restore(snap.data);
    node.applied = snap.metadata.index;
    node.confState = snap.metadata.confState;
    this.safety.onSnapshotInstalled(node.id, snap.metadata.index, snap.metadata.term);
    this.stats.snapshotsInstalled++;
    this.hooks.onSnapshotInstalled?.(node);
  }

  #apply(node: SimNode, e: Entry): void {
    if (e.index !== node.applied + 1) throw new Error(`${node.id} applies ${e.index} after ${node.applied}`);
    this.safety.onApplied(node.id, e);
    node.applied = e.index;
    node.appliedLog.push(e);
    if (e.type === 'conf-change') {
      node.confState = decodeConfChange(e.data).confState;
      this.stats.confChangesApplied++;
      return;
    }
    const cmd = node.kv.apply(e);
    if (cmd !== undefined) this.hooks.onApplied?.(node, cmd);
  }

  #serveReads(node: SimNode): void {
    if (node.reads.length === 0) return;
    const waiting: { index: number; context: string }[] = [];
    for (const rs of node.reads) {
      if (rs.index > node.applied) {
        waiting.push(rs);
        continue;
      }
      this.stats.readsServed++;
      this.hooks.onRead?.(node, rs.context);
    }
    node.reads = waiting;
  }

  #maybeCompact(node: SimNode): void {
    const every = this.opts.snapshotEvery;
    if (every === 0) return;
    const snapIndex = node.storage.snapshot().metadata.index;
    if (node.applied - snapIndex < every) return;
    this.snapshotNow(node.id);
  }

  /** The application snapshots its state at its applied index and compacts behind it. */
  snapshotNow(id: NodeId, margin = this.opts.compactionMargin): void {
    const node = this.node(id);
    node.disk.createSnapshot(node.applied, node.confState, node.kv.serialize());
    const compactTo = node.applied - margin;
    if (compactTo > node.storage.firstIndex()) node.disk.compact(compactTo);
    // The snapshot replaces log entries: it must be durable before they are gone.
    node.disk.sync();
  }

  /** Delivers one message if the network lets it pass and the target is up. */
  deliver(m: Message): void {
    const target = this.nodes.get(m.to);
    if (target?.raft === undefined || !this.net.passes(m)) return;
    this.net.delivered++;
    target.raft.step(m);
    this.process(m.to);
  }

  /** One round: every live node ticks, then every message due is delivered. */
  tickRound(): void {
    this.round++;
    for (const node of this.nodes.values()) {
      if (node.raft === undefined) continue;
      node.raft.tick();
      this.process(node.id);
    }
    this.deliverDue();
  }

  deliverDue(): void {
    for (const m of this.net.takeDue(this.round)) this.deliver(m);
  }

  /** Runs rounds until `pred` holds; false if it did not within `maxRounds`. */
  runUntil(pred: () => boolean, maxRounds: number): boolean {
    for (let i = 0; i < maxRounds; i++) {
      if (pred()) return true;
      this.tickRound();
    }
    return pred();
  }

  /** Delivers messages without ticking until the network is quiet (bounded). */
  stabilize(maxRounds = 100): void {
    for (let i = 0; i < maxRounds && this.net.pending() > 0; i++) {
      this.round++;
      this.deliverDue();
    }
  }

  // ---- observation ------------------------------------------------------------------------

  /** The leader of the highest term among live nodes, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const node of this.nodes.values()) {
      const st = node.raft?.status();
      if (st?.role === 'leader' && (best === undefined || st.term > best.term)) best = { id: node.id, term: st.term };
    }
    return best?.id;
  }

  /** Runs until some node leads and every live member of its configuration follows it. */
  waitForStableLeader(maxRounds: number): NodeId | undefined {
    let found: NodeId | undefined;
    const ok = this.runUntil(() => {
      const l = this.leader();
      if (l === undefined) return false;
      const st = this.raft(l).status();
      const members = [...st.config.voters, ...st.config.learners];
      found = l;
      return members.every((id) => !this.isUp(id) || this.raft(id).status().lead === l);
    }, maxRounds);
    return ok ? found : undefined;
  }

  propose(id: NodeId, data: Uint8Array): boolean {
    const ok = this.raft(id).propose(data);
    this.process(id);
    return ok;
  }

  proposeConfChange(id: NodeId, cc: ConfChange): boolean {
    const ok = this.raft(id).proposeConfChange(cc);
    this.process(id);
    return ok;
  }

  transferLeadership(id: NodeId, to: NodeId): void {
    this.raft(id).transferLeadership(to);
    this.process(id);
  }

  readIndex(id: NodeId, context: string): void {
    this.raft(id).readIndex(context);
    this.process(id);
  }

  /** Whether every listed live node has applied at least `index`. */
  appliedEverywhere(index: number, ids: readonly NodeId[] = this.ids): boolean {
    return ids.every((id) => !this.isUp(id) || this.node(id).applied >= index);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

export function text(b: Uint8Array): string {
  return decoder.decode(b);
}

/** The non-empty application payloads a node has applied, as strings (scenario assertions). */
export function appliedPayloads(node: SimNode): string[] {
  return node.appliedLog.filter((e) => e.type === 'normal' && e.data.byteLength > 0).map((e) => text(e.data));
}
