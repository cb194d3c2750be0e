// Seeded chaos schedules over the simulated cluster: partitions (symmetric and one-way),
// process crashes and power losses (which drop what was not fsynced) at any point of Ready
// handling, including between the writes of one Ready, and restarts; message loss,
// duplication, delay and reordering; membership changes down to two voters, including a
// leader removing itself and then being cut off or crashing; snapshots installed on lagging
// followers followed by a power loss; leadership transfers, compaction, and key-value clients
// whose history is checked for linearizability. Some rounds after every membership change, and
// at the end, every fault heals and the cluster must elect a leader and commit within a
// bounded number of rounds (liveness), then chaos resumes.
// Everything derives from the seed: a failure replays exactly from it.
import type { NodeId } from '../../../cluster/raft/index.ts';
import { SimCluster } from './cluster.ts';
import type { CrashPoint, SimNode, SimOptions } from './cluster.ts';
import { encodeCommand } from './kv.ts';
import type { KvCommand } from './kv.ts';
import { HistoryRecorder, checkLinearizable } from './linearizability.ts';
import type { CheckResult, KvInput } from './linearizability.ts';
import { calm } from './network.ts';

export interface ChaosOptions {
  seed: number;
  /** Rounds of chaos before healing. */
  rounds: number;
  /** Rounds allowed after healing for a leader to emerge and a proposal to commit everywhere. */
  livenessRounds: number;
  membership: boolean;
  clients: number;
  keys: number;
  /** Cluster shape and Raft settings; by default derived from the seed (see variantFor). */
  variant?: ChaosVariant;
}

export interface ChaosVariant {
  name: string;
  voters: NodeId[];
  raft: Partial<Omit<SimOptions, 'seed' | 'ids' | 'voters'>>;
}

/**
 * The seed also picks the cluster's shape, so one number replays a run exactly: plain Raft
 * (no PreVote, no CheckQuorum), five voters from the start, and tight flow control (one
 * small entry per message, two appends in flight) besides the defaults.
 */
export function variantFor(seed: number): ChaosVariant {
  switch (seed % 4) {
    case 1:
      return { name: 'plain Raft', voters: ['n1', 'n2', 'n3'], raft: { preVote: false, checkQuorum: false } };
    case 2:
      return { name: 'five voters', voters: ['n1', 'n2', 'n3', 'n4', 'n5'], raft: {} };
    case 3:
      return { name: 'tight flow control', voters: ['n1', 'n2', 'n3'], raft: { maxSizePerMsg: 1, maxInflightMsgs: 2, heartbeatTicks: 1 } };
    default:
      return { name: 'defaults', voters: ['n1', 'n2', 'n3'], raft: {} };
  }
}

// 300 rounds is about 20 election timeouts. Plain Raft needs that much in the worst seeds
// found: when only two of four voters hold the longest log, the other two keep starting
// elections they cannot win, and every such election resets everybody's timer (seed 500737
// with CHAOS_ROUNDS=900 took ~200 rounds). PreVote removes that; it is on by default.
export const defaultChaos: Omit<ChaosOptions, 'seed'> = { rounds: 300, livenessRounds: 300, membership: true, clients: 5, keys: 2 };

export interface ChaosResult {
  seed: number;
  /** Why the run failed; undefined when every check passed. */
  failure: string | undefined;
  rounds: number;
  leaders: number;
  committed: number;
  messages: number;
  operations: number;
  stats: SimCluster['stats'];
  linearizability: CheckResult | undefined;
}

interface Client {
  id: number;
  /** The operation in flight: history id, input, node asked, round it gives up. */
  op: { hid: number; opId: number; input: KvInput; node: NodeId; deadline: number; context: string } | undefined;
}

const allIds = ['n1', 'n2', 'n3', 'n4', 'n5'];

export class ChaosRun {
  readonly c: SimCluster;
  readonly o: ChaosOptions;
  readonly history = new HistoryRecorder();
  readonly clients: Client[] = [];
  #time = 0;
  #nextOp = 1;
  /** Round at which the pending mid-run liveness check (after a membership change) runs. */
  #livenessDue: number | undefined;
  #livenessChecks = 0;
  #livenessWrites = 0;
  /** Nodes to power back on, with the round they come back. */
  #reboots = new Map<NodeId, number>();
  /** While a liveness check runs, no new faults. */
  #healing = false;

  constructor(o: ChaosOptions) {
    this.o = o;
    const v = o.variant ?? variantFor(o.seed);
    this.c = new SimCluster({ seed: o.seed, ids: allIds, voters: v.voters, snapshotEvery: 12, compactionMargin: 3, ...v.raft });
    for (let i = 0; i < o.clients; i++) this.clients.push({ id: i, op: undefined });
    this.c.hooks = {
      onApplied: (node, cmd) => this.#onApplied(node, cmd),
      onRead: (node, context) => this.#onRead(node, context),
      onCrash: (node) => this.#onCrash(node),
      onSnapshotInstalled: (node) => this.#onSnapshotInstalled(node),
    };
  }

  #rand(): number {
    return this.c.rand();
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#rand() * xs.length)] as T;
  }

  #now(): number {
    return ++this.#time;
  }

  run(): ChaosResult {
    let failure: string | undefined;
    let lin: CheckResult | undefined;
    try {
      this.#setWeather();
      for (let i = 0; i < this.o.rounds && failure === undefined; i++) {
        this.#maybeFault();
        this.#drive();
        this.c.tickRound();
        if (this.#livenessDue !== undefined && this.c.round >= this.#livenessDue) {
          this.#livenessDue = undefined;
          failure = this.#checkLiveness(`after a membership change (check ${++this.#livenessChecks})`);
          this.#setWeather();
        }
      }
      failure ??= this.#checkLiveness('after healing');
      if (failure === undefined && this.o.clients > 0) {
        lin = checkLinearizable(this.history.history(), { timeoutSteps: 2_000_000 });
        if (lin.ok === false) failure = `linearizability: ${lin.explanation}`;
      }
    } catch (err) {
      failure = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
    }
    return {
      seed: this.o.seed,
      failure,
      rounds: this.c.round,
      leaders: this.c.safety.leaders.size,
      committed: this.c.safety.maxApplied.index,
      messages: this.c.net.delivered,
      operations: this.history.history().length,
      stats: { ...this.c.stats },
      linearizability: lin,
    };
  }

  #setWeather(): void {
    const r = this.#rand();
    // Some runs are calm, some lossy, some slow and reordered.
    this.c.net.faults = {
      loss: r < 0.3 ? 0 : this.#rand() * 0.2,
      duplicate: this.#rand() * 0.1,
      maxDelay: Math.floor(this.#rand() * 3),
      longDelayChance: this.#rand() * 0.05,
      longDelay: 20,
    };
  }

  #maybeFault(): void {
    const c = this.c;
    for (const [id, round] of this.#reboots) {
      if (c.round < round) continue;
      this.#reboots.delete(id);
      c.restart(id);
    }
    const r = this.#rand();
    if (r < 0.01) c.net.partition(this.#randomSide(), allIds);
    else if (r < 0.015) this.#isolateLeader();
    else if (r < 0.025) c.net.cut(this.#pick(allIds), this.#pick(allIds));
    else if (r < 0.045) c.net.heal();
    else if (r < 0.052) c.crash(this.#pick(allIds), { powerLoss: this.#rand() < 0.4 });
    else if (r < 0.058) c.crashPoint.set(this.#pick(allIds), this.#crashPoint());
    else if (r < 0.09) {
      for (const id of allIds) if (!c.isUp(id) && this.#rand() < 0.6) c.restart(id);
    } else if (r < 0.12 && this.o.membership) this.#changeMembership();
    else if (r < 0.13) this.#transfer();
    else if (r < 0.135) c.net.faults = { ...c.net.faults, loss: this.#rand() * 0.3 };
  }

  /** The classic stale-leader setup: the leader keeps serving its side of a partition. */
  #isolateLeader(): void {
    const l = this.c.leader();
    if (l === undefined) return;
    const side = [l, ...allIds.filter((id) => id !== l && this.#rand() < 0.2)];
    this.c.net.partition(side, allIds);
  }

  #randomSide(): NodeId[] {
    const side = allIds.filter(() => this.#rand() < 0.4);
    return side.length === 0 ? [this.#pick(allIds)] : side;
  }

  #crashPoint(): CrashPoint {
    const r = this.#rand();
    return { at: r < 0.33 ? 'before-persist' : r < 0.66 ? 'mid-persist' : 'before-send', powerLoss: this.#rand() < 0.4 };
  }

  #changeMembership(): void {
    const c = this.c;
    const l = c.leader();
    if (l === undefined) return;
    const { voters, learners } = c.raft(l).status().config;
    const outside = allIds.filter((id) => !voters.includes(id) && !learners.includes(id));
    const r = this.#rand();
    let proposed = false;
    if (r < 0.3 && outside.length > 0) proposed = c.proposeConfChange(l, { type: 'add-learner', nodeId: this.#pick(outside) });
    else if (r < 0.6 && learners.length > 0) proposed = c.proposeConfChange(l, { type: 'add-voter', nodeId: this.#pick(learners) });
    else if (r < 0.72 && voters.length > 2) proposed = c.proposeConfChange(l, { type: 'remove-node', nodeId: this.#pick(voters) });
    else if (r < 0.85 && voters.length > 1) proposed = this.#removeLeader(l);
    else if (learners.length > 0) proposed = c.proposeConfChange(l, { type: 'remove-node', nodeId: this.#pick(learners) });
    else if (outside.length > 0 && voters.length < 5) proposed = c.proposeConfChange(l, { type: 'add-voter', nodeId: this.#pick(outside) });
    // Every change must leave a cluster that can still elect and commit: check that soon,
    // with the change committed or not, before the next change can hide a deadlock.
    if (proposed) this.#livenessDue ??= c.round + 10 + Math.floor(this.#rand() * 40);
  }

  /**
   * The leader removes itself (thesis §4.2.2), and often loses the entry's only copy's
   * audience at once: it crashes before sending it (perhaps losing power too) or is cut off.
   */
  #removeLeader(l: NodeId): boolean {
    const c = this.c;
    const r = this.#rand();
    if (r < 0.3) c.crashPoint.set(l, { at: 'before-send', powerLoss: this.#rand() < 0.3 });
    const proposed = c.proposeConfChange(l, { type: 'remove-node', nodeId: l });
    c.crashPoint.delete(l);
    if (r >= 0.3 && r < 0.6) c.net.isolate(l, allIds);
    if (!c.isUp(l)) this.#reboots.set(l, c.round + 1 + Math.floor(this.#rand() * 10));
    return proposed;
  }

  /**
   * A follower that just installed a snapshot loses power before anything else makes its disk
   * durable (the window in which an unsynced snapshot would be acknowledged and lost).
   */
  #onSnapshotInstalled(node: SimNode): void {
    if (this.#healing || this.#rand() >= 0.3) return;
    this.c.crashPoint.set(node.id, { at: 'before-persist', powerLoss: true });
    this.#reboots.set(node.id, this.c.round + 1 + Math.floor(this.#rand() * 5));
  }

  #transfer(): void {
    const l = this.c.leader();
    if (l === undefined) return;
    this.c.transferLeadership(l, this.#pick(this.c.raft(l).status().config.voters));
  }

  // ---- clients ----------------------------------------------------------------------------

  #drive(): void {
    for (const client of this.clients) {
      const op = client.op;
      if (op !== undefined && this.c.round < op.deadline) continue;
      if (op !== undefined) this.#giveUp(client);
      if (this.#rand() < 0.5) this.#invoke(client);
    }
  }

  #invoke(client: Client): void {
    const up = allIds.filter((id) => this.c.isUp(id));
    if (up.length === 0) return;
    const node = this.#pick(up);
    const key = `k${Math.floor(this.#rand() * this.o.keys)}`;
    const r = this.#rand();
    const opId = this.#nextOp++;
    const value = `v${opId}`;
    const input: KvInput =
      r < 0.4 ? { kind: 'get', key } : r < 0.75 ? { kind: 'put', key, value } : { kind: 'cas', key, expected: this.#pick([undefined, `v${Math.max(1, opId - 1 - Math.floor(this.#rand() * 4))}`]), value };
    const hid = this.history.invoke(client.id, input, this.#now());
    const context = `${node}/${opId}`;
    client.op = { hid, opId, input, node, deadline: this.c.round + 30, context };
    let accepted = true;
    if (input.kind === 'get') this.c.readIndex(node, context);
    else {
      const cmd: KvCommand = { id: opId, kind: input.kind, key, value: input.value };
      if (input.kind === 'cas') cmd.expected = input.expected;
      accepted = this.c.propose(node, encodeCommand(cmd));
    }
    if (!accepted && client.op?.hid === hid) {
      // Dropped before it was appended anywhere: it cannot take effect.
      this.history.discard(hid);
      client.op = undefined;
    }
  }

  #giveUp(client: Client): void {
    const op = client.op;
    if (op === undefined) return;
    // A read that never answered had no effect; a write's outcome stays unknown (pending).
    if (op.input.kind === 'get') this.history.discard(op.hid);
    client.op = undefined;
  }

  #onApplied(node: SimNode, cmd: KvCommand): void {
    for (const client of this.clients) {
      const op = client.op;
      if (op === undefined || op.opId !== cmd.id || op.node !== node.id) continue;
      const output = op.input.kind === 'cas' ? node.kv.results.get(cmd.id) : undefined;
      this.history.complete(op.hid, output, this.#now());
      client.op = undefined;
    }
  }

  #onRead(node: SimNode, context: string): void {
    for (const client of this.clients) {
      const op = client.op;
      if (op === undefined || op.context !== context || op.node !== node.id || op.input.kind !== 'get') continue;
      this.history.complete(op.hid, node.kv.map.get(op.input.key), this.#now());
      client.op = undefined;
    }
  }

  #onCrash(node: SimNode): void {
    for (const client of this.clients) if (client.op?.node === node.id) this.#giveUp(client);
  }

  // ---- liveness ---------------------------------------------------------------------------

  #checkLiveness(when: string): string | undefined {
    this.#healing = true;
    try {
      return this.#awaitLiveness(when);
    } finally {
      this.#healing = false;
    }
  }

  #awaitLiveness(when: string): string | undefined {
    const c = this.c;
    for (const client of this.clients) this.#giveUp(client);
    c.net.heal();
    c.net.faults = { ...calm };
    c.crashPoint.clear();
    this.#reboots.clear();
    for (const id of allIds) c.restart(id);
    // A marker write must reach every member of the final configuration. A leader elected
    // just before healing may still lose its office (and the marker) to a better-placed node,
    // so the write is retried under each new leader, all within one bound.
    const deadline = c.round + this.o.livenessRounds;
    const value = `${when}-${this.o.seed}`;
    let proposedTo: NodeId | undefined;
    let proposedAt = 0;
    while (c.round < deadline) {
      const leader = c.waitForStableLeader(deadline - c.round);
      if (leader === undefined) return `liveness: no stable leader within ${this.o.livenessRounds} rounds ${when}`;
      const st = c.raft(leader).status();
      const members = [...st.config.voters, ...st.config.learners];
      if (members.every((id) => c.node(id).kv.map.get('liveness') === value)) return undefined;
      if (proposedTo !== leader || c.round - proposedAt > 30) {
        // Negative ids never collide with the clients'; each attempt of each check is new.
        c.propose(leader, encodeCommand({ id: -++this.#livenessWrites, kind: 'put', key: 'liveness', value }));
        proposedTo = leader;
        proposedAt = c.round;
      }
      c.tickRound();
    }
    const lag = allIds.map((id) => `${id}@${c.node(id).applied}`).join(' ');
    return `liveness: no write committed on every member within ${this.o.livenessRounds} rounds ${when} (${lag})`;
  }
}

export function runChaos(o: ChaosOptions): ChaosResult {
  return new ChaosRun(o).run();
}

export function replayCommand(seed: number, rounds = defaultChaos.rounds): string {
  const env = rounds === defaultChaos.rounds ? '' : `CHAOS_ROUNDS=${rounds} `;
  return `${env}SEED=${seed} node --test test/cluster/sim/chaos.test.ts`;
}
