// A deterministic in-memory Raft cluster: N RawNodes, each on a simulated disk (disk.ts: what
// was written survives a process crash, only what was fsynced survives a power loss), a
// key-value state machine, and one simulated network. Time advances in rounds: every live node
// ticks once, then the messages due are delivered. Each node's Readies go through the
// production replica's own loop (cluster/replica/ready-loop.ts): the simulator only persists
// what take() hands it (each part a separate write, fsynced when mustSync; a crash may fall
// between any two) before finish() sends, installs, applies and advances. The safety checker
// sees every step.
import { RawNode, seededRandom } from '../../../cluster/raft/index.ts';
import type { ConfChange, ConfState, Entry, MemoryStorage, Message, NodeId, RaftConfig } from '../../../cluster/raft/index.ts';
import { NotLeaderError, ReplicaLoop } from '../../../cluster/replica/ready-loop.ts';
import type { PersistWork } from '../../../cluster/replica/ready-loop.ts';
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
  /** The production Ready loop around the node's RawNode; undefined while the node is down. */
  loop: ReplicaLoop<KvCommand | undefined> | undefined;
  raft: RawNode | undefined;
  /** The state machine (lives as long as the process: rebuilt from the snapshot at restart). */
  kv: KvStore;
  applied: number;
  /** Membership as of `applied`, recorded with snapshots. */
  confState: ConfState;
  /** Every committed entry this node applied since it last started, as its state machine saw it. */
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
        id, disk, get storage() { return disk.storage; }, loop: undefined, raft: undefined, kv: new KvStore(), applied: 0, confState, appliedLog: [],
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
    node.appliedLog = [];
    const incarnation = String(this.#restarts);
    node.raft = new RawNode(this.#config(node));
    node.loop = new ReplicaLoop({
      raw: node.raft,
      machine: node.kv,
      send: (messages) => {
        for (const m of messages) this.net.send(m, this.round);
      },
      applied: node.applied,
      confState: node.confState,
      incarnation,
    });
  }

  loop(id: NodeId): ReplicaLoop<KvCommand | undefined> {
    const loop = this.node(id).loop;
    if (loop === undefined) throw new Error(`node ${id} is down`);
    return loop;
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
    node.loop = undefined;
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

  /** Handles every pending Ready of a node through the replica's loop. */
  process(id: NodeId): void {
    const node = this.node(id);
    for (let guard = 0; node.loop !== undefined; guard++) {
      if (guard > 1000) throw new Error(`node ${id} keeps producing Readies`);
      const work = node.loop.take();
      if (work === undefined) return;
      this.#handleReady(node, node.loop, work);
    }
  }

  #handleReady(node: SimNode, loop: ReplicaLoop<KvCommand | undefined>, work: PersistWork): void {
    const crash = this.crashPoint.get(node.id);
    if (crash !== undefined) this.crashPoint.delete(node.id);
    const down = (): void => this.crash(node.id, { powerLoss: crash?.powerLoss === true, keep: crash?.keep });
    // The documented order; each part is its own write, so a crash can fall between them.
    const d = node.disk;
    const writes: (() => void)[] = [];
    const snapshot = work.snapshot;
    if (snapshot !== undefined) writes.push(() => d.applySnapshot(snapshot));
    if (work.entries.length > 0) writes.push(() => d.append(work.entries));
    const hardState = work.hardState;
    if (hardState !== undefined) writes.push(() => d.setHardState(hardState));
    if (crash?.at === 'before-persist') return down();
    if (crash?.at === 'mid-persist' && writes.length > 0) {
      const done = Math.floor(this.rand() * writes.length);
      for (const w of writes.slice(0, done)) w();
      return down();
    }
    for (const w of writes) w();
    if (work.sync) d.sync();
    this.safety.onPersisted(node.id, work.ready, loop.raw);
    if (crash !== undefined) return down();
    const finished = loop.finish(work);
    if (finished.installed !== undefined) {
      const { index, term } = finished.installed.metadata;
      this.safety.onSnapshotInstalled(node.id, index, term);
      this.stats.snapshotsInstalled++;
      node.applied = index;
      node.confState = loop.confState;
      this.hooks.onSnapshotInstalled?.(node);
    }
    for (const a of finished.applied) {
      this.safety.onApplied(node.id, a.logEntry);
      node.applied = a.logEntry.index;
      node.appliedLog.push(a.entry);
      if (a.entry.type === 'conf-change') this.stats.confChangesApplied++;
      else if (a.result !== undefined) this.hooks.onApplied?.(node, a.result);
    }
    node.confState = loop.confState;
    for (const context of finished.reads) {
      this.stats.readsServed++;
      this.hooks.onRead?.(node, context);
    }
    this.#maybeCompact(node);
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
    const { index, confState, data } = this.loop(id).snapshotRequest();
    node.disk.createSnapshot(index, confState, data);
    const compactTo = index - margin;
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

  /** Proposes through the node's replica loop; false when it was dropped there. */
  propose(id: NodeId, data: Uint8Array): boolean {
    let ok = true;
    try {
      this.loop(id).propose(data);
    } catch (error) {
      if (!(error instanceof NotLeaderError)) throw error;
      ok = false;
    }
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
    this.loop(id).readIndex(context);
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
