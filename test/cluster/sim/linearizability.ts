// Linearizability checker for a key-value register workload, run over client histories that
// the deterministic Raft simulator records.
//
// A history is linearizable (Herlihy & Wing 1990) when every completed operation can be given
// one instant between its call and its return such that executing the operations one by one
// in that order, against a sequential key-value map, yields exactly the outputs the clients
// observed. Operations that never returned (client crashed, request timed out) may or may not
// have taken effect: their return time is +infinity and the search may leave them out.
//
// Algorithm: Wing & Gong 1993 ("Testing and verifying concurrent objects"), with Lowe's
// memoization (Lowe 2017, "Testing for linearizability"), as implemented by Porcupine
// (github.com/anishathalye/porcupine). Calls and returns become entries in one list sorted by
// time. A depth-first search walks the list: at a call entry it tries to linearize that
// operation next (apply it to the model state; the outputs must match), and if that succeeds it
// removes the call and its return from the list (dancing links, so undo is O(1)) and restarts
// from the head. Reaching a return entry means that operation must already have been
// linearized: backtrack. Lowe's cache stores every (set of linearized operations, model state)
// pair seen; reaching one again cannot lead anywhere new, which prunes the exponential search to
// the reachable configurations. The completed set is a bitset numbered in call order, keyed by
// the window between its leading ones and trailing zeros, so a cache entry stays small.
//
// P-compositionality (Horn & Kroening 2015; Herlihy & Wing's locality): every operation touches
// exactly one key, and a history is linearizable iff its restriction to each key is, so each
// key is checked on its own, with a one-value model state.
//
// Operations that never returned stay candidates forever and multiply the search; four sound
// reductions keep it small, each checked against an all-permutations checker in the tests:
// - dominance in the cache: a configuration with more lost operations linearized than a seen
//   one (same completed set, same state) can do nothing the seen one could not;
// - twins: lost operations with the same effect are interchangeable, so only the earliest-called
//   unused one of each kind is tried;
// - values that no get reads and no cas expects are indistinguishable, folded into one state;
// - partial-order reduction: a read-only completed operation that fits now goes first, alone.
// Lost operations are tried after completed ones, so configurations are first reached with the
// fewest. Unique written values (say "c3-17") keep histories with many lost writes cheap.
//
// Real-time order: A precedes B only when A.ret < B.call. Equal times count as concurrent (calls
// sort before returns at the same instant), so a coarse logical clock can never cause a false
// violation; it can only hide one.

export type KvOperationKind = 'put' | 'get' | 'cas';

export interface KvOperation {
  clientId: number;
  kind: KvOperationKind;
  key: string;
  /** put: the value written; cas: the value written when the comparison succeeds. */
  value?: string;
  /** cas: the value the key must hold; undefined means "the key is absent". */
  expected?: string;
  /** get: the value read (undefined: absent); cas: whether it swapped; put: ignored. */
  output?: string | boolean | undefined;
  /** Logical time of the invocation. */
  call: number;
  /** Logical time of the response; undefined: never returned, outcome unknown. */
  ret: number | undefined;
}

export interface CheckOptions {
  /** Search steps allowed per key before giving up with 'unknown' (default 5,000,000). */
  timeoutSteps?: number;
}

export type CheckResult =
  | { ok: true }
  | { ok: false; key: string; explanation: string }
  | { ok: 'unknown'; key: string; reason: string };

const defaultTimeoutSteps = 5_000_000;
const listLimit = 12;

/** Checks a whole history; throws on a malformed operation (a bug in the recorder, not a verdict). */
export function checkLinearizable(history: readonly KvOperation[], options: CheckOptions = {}): CheckResult {
  const budget = options.timeoutSteps ?? defaultTimeoutSteps;
  if (!Number.isSafeInteger(budget) || budget < 1) throw new Error(`timeoutSteps must be a positive integer, got ${budget}`);
  if (!Array.isArray(history)) throw new Error('history must be an array of operations');
  const byKey = new Map<string, KvOperation[]>();
  history.forEach((op, i) => {
    validateOperation(op, `history[${i}]`);
    const ops = byKey.get(op.key) ?? [];
    ops.push(op);
    byKey.set(op.key, ops);
  });
  let unknown: CheckResult | undefined;
  // A definite violation on any key wins over a search that ran out of budget on another.
  for (const [key, ops] of [...byKey].sort((a, b) => a[1].length - b[1].length)) {
    const result = checkKey(key, ops, budget);
    if (result.ok === false) return result;
    if (result.ok === 'unknown') unknown ??= result;
  }
  return unknown ?? { ok: true };
}

function validateOperation(op: KvOperation, where: string): void {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  if (typeof op !== 'object' || op === null) fail('not an operation object');
  if (!Number.isInteger(op.clientId)) fail('clientId must be an integer');
  if (typeof op.key !== 'string') fail('key must be a string');
  if (!Number.isFinite(op.call)) fail('call must be a finite number');
  if (op.ret !== undefined && !(Number.isFinite(op.ret) && op.ret >= op.call)) {
    fail(`ret must be undefined or a finite number >= call (${op.call}), got ${op.ret}`);
  }
  const done = op.ret !== undefined;
  if (op.kind === 'put') {
    if (typeof op.value !== 'string') fail('put needs a string value');
  } else if (op.kind === 'get') {
    if (done && op.output !== undefined && typeof op.output !== 'string') fail('get output must be a string or undefined');
  } else if (op.kind === 'cas') {
    if (typeof op.value !== 'string') fail('cas needs a string value (the new value)');
    if (op.expected !== undefined && typeof op.expected !== 'string') fail('cas expected must be a string or undefined');
    if (done && typeof op.output !== 'boolean') fail('a completed cas needs a boolean output');
  } else {
    fail(`unknown kind ${JSON.stringify(op.kind)}`);
  }
}

/** One operation of one key, with values interned to small integers (0 = absent). */
interface SearchOp {
  source: KvOperation;
  kind: KvOperationKind;
  pending: boolean;
  /** Index in the completed or in the never-returned bitset of LinearizedSet, by call time. */
  slot: number;
  value: number;
  expected: number;
  /** get: the value id read; cas: 1 swapped, 0 not. */
  output: number;
  /** Leaves the state unchanged in every state where it fits. */
  readOnly: boolean;
  /** Never-returned only: the class of operations with the same effect, and this one's rank in it by call time. */
  twins: number;
  rank: number;
}

/** Sequential key-value register: the next state, or -1 when `op` cannot go next from `state`. */
function step(state: number, op: SearchOp): number {
  switch (op.kind) {
    case 'put':
      // A pending no-op write is equivalent to leaving it out; skipping it prunes the search.
      return op.pending && op.value === state ? -1 : op.value;
    case 'get':
      return op.output === state ? state : -1;
    case 'cas': {
      const swaps = state === op.expected;
      if (op.pending) return swaps && op.value !== state ? op.value : -1;
      if (op.output === 1) return swaps ? op.value : -1;
      return swaps ? -1 : state;
    }
  }
}

/** State 1 stands for every value that no get reads and no cas expects: no operation can tell them apart. */
const unobserved = 1;

function internOperations(history: readonly KvOperation[]): SearchOp[] {
  const observed = new Set<string | undefined>();
  for (const op of history) {
    if (op.kind === 'get' && op.ret !== undefined) observed.add(op.output as string | undefined);
    if (op.kind === 'cas') observed.add(op.expected);
  }
  const ids = new Map<string, number>();
  let nextId = unobserved + 1;
  const intern = (v: string | undefined): number => {
    if (v === undefined) return 0;
    if (!observed.has(v)) return unobserved;
    let id = ids.get(v);
    if (id === undefined) {
      id = nextId++;
      ids.set(v, id);
    }
    return id;
  };
  const ops: SearchOp[] = [];
  for (const op of history) {
    const pending = op.ret === undefined;
    // A read that never returned observed nothing and changed nothing.
    if (pending && op.kind === 'get') continue;
    const output = op.kind === 'cas' ? Number(op.output === true) : op.kind === 'get' ? intern(op.output as string | undefined) : 0;
    const value = intern(op.value);
    const expected = intern(op.expected);
    const readOnly = op.kind === 'get' || (op.kind === 'cas' && (output === 0 || value === expected));
    ops.push({ source: op, kind: op.kind, pending, slot: 0, value, expected, output, readOnly, twins: 0, rank: 0 });
  }
  numberOperations(ops);
  return ops;
}

/**
 * Numbers each group (completed, never-returned) in call order for the bitsets, and the
 * never-returned operations with identical effects within their class of twins (see Search).
 */
function numberOperations(ops: SearchOp[]): void {
  const byCall = ops.map((o, i) => ({ o, i })).sort((a, b) => a.o.source.call - b.o.source.call || a.i - b.i);
  const classes = new Map<string, number>();
  const sizes: number[] = [];
  const slots = { done: 0, lost: 0 };
  for (const { o } of byCall) {
    o.slot = o.pending ? slots.lost++ : slots.done++;
    if (!o.pending) continue;
    const name = `${o.kind} ${o.value} ${o.expected}`;
    const twins = classes.get(name) ?? classes.size;
    classes.set(name, twins);
    o.twins = twins;
    o.rank = sizes[twins] ?? 0;
    sizes[twins] = o.rank + 1;
  }
}

/**
 * Two doubly linked lists over one set of nodes, numbered in time order (so `a < b` means a
 * sorts first): node 0 heads the completed operations' calls and returns, node `lostHead` the
 * calls of never-returned ones. These stay candidates forever; keeping them apart stops every
 * scan from walking over all of them. -1 is null.
 */
interface EntryList {
  next: Int32Array;
  prev: Int32Array;
  op: Int32Array;
  isCall: Uint8Array;
  /** For a call node, its return node (-1: pending). */
  match: Int32Array;
  lostHead: number;
}

function buildEntries(ops: readonly SearchOp[]): EntryList {
  const raw: { time: number; isCall: boolean; op: number }[] = [];
  ops.forEach((o, i) => {
    raw.push({ time: o.source.call, isCall: true, op: i });
    if (!o.pending) raw.push({ time: o.source.ret as number, isCall: false, op: i });
  });
  raw.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const size = raw.length + 2;
  const l: EntryList = {
    next: new Int32Array(size).fill(-1), prev: new Int32Array(size), op: new Int32Array(size),
    isCall: new Uint8Array(size), match: new Int32Array(size).fill(-1), lostHead: size - 1,
  };
  const callNode = new Int32Array(ops.length);
  let mainTail = 0;
  let lostTail = l.lostHead;
  raw.forEach((e, i) => {
    const node = i + 1;
    l.op[node] = e.op;
    l.isCall[node] = e.isCall ? 1 : 0;
    if (e.isCall) callNode[e.op] = node;
    else l.match[callNode[e.op] as number] = node;
    const lost = (ops[e.op] as SearchOp).pending;
    const tail = lost ? lostTail : mainTail;
    l.next[tail] = node;
    l.prev[node] = tail;
    if (lost) lostTail = node;
    else mainTail = node;
  });
  return l;
}

function unlink(l: EntryList, node: number): void {
  const p = l.prev[node] as number;
  const n = l.next[node] as number;
  l.next[p] = n;
  if (n !== -1) l.prev[n] = p;
}

function relink(l: EntryList, node: number): void {
  const p = l.prev[node] as number;
  const n = l.next[node] as number;
  l.next[p] = node;
  if (n !== -1) l.prev[n] = node;
}

/**
 * The linearized set, as two bitsets: completed operations and never-returned ones, each
 * numbered in call order, so the completed set is all ones, then a window, then all zeros.
 */
class LinearizedSet {
  readonly done: Uint32Array;
  readonly lost: Uint32Array;
  lostCount = 0;

  constructor(ops: readonly SearchOp[]) {
    const lost = ops.filter((o) => o.pending).length;
    this.done = new Uint32Array(Math.ceil((ops.length - lost) / 32) || 1);
    this.lost = new Uint32Array(Math.ceil(lost / 32) || 1);
  }

  toggle(op: SearchOp): void {
    const bits = op.pending ? this.lost : this.done;
    const word = bits[op.slot >>> 5] as number;
    const mask = 1 << (op.slot & 31);
    bits[op.slot >>> 5] = word ^ mask;
    if (op.pending) this.lostCount += word & mask ? -1 : 1;
  }

  /** The completed set and the state as a compact string: only the window between the ones and the zeros. */
  key(state: number): string {
    const done = this.done;
    let lo = 0;
    while (lo < done.length - 1 && done[lo] === 0xffffffff) lo++;
    let hi = done.length - 1;
    while (hi > lo && done[hi] === 0) hi--;
    let key = `${state},${lo},`;
    for (let i = lo; i <= hi; i++) {
      const w = done[i] as number;
      key += String.fromCharCode(w & 0xffff, w >>> 16);
    }
    return key;
  }
}

const noLost = new Uint32Array(0);

/**
 * Lowe's cache of configurations already explored, with one refinement: a configuration is
 * also skipped when a seen one has the same completed set and state and linearized a subset of
 * its never-returned operations. Anything reachable from the larger set is reachable from the
 * smaller (a never-returned operation is optional and constrains nothing), so the smaller one's
 * search covers it. Without this, k lost writes multiply the configurations by up to 2^k.
 */
class ConfigurationCache {
  /** (completed set, state) -> the never-returned sets seen with it, an antichain. */
  readonly #seen = new Map<string, Uint32Array[]>();

  /** Adds the configuration; false when a seen one dominates it. */
  add(set: LinearizedSet, state: number): boolean {
    const key = set.key(state);
    const lost = set.lostCount === 0 ? noLost : set.lost.slice();
    const seen = this.#seen.get(key);
    if (seen === undefined) {
      this.#seen.set(key, [lost]);
      return true;
    }
    if (seen.some((other) => subsetBits(other, lost))) return false;
    const kept = seen.filter((other) => !subsetBits(lost, other));
    kept.push(lost);
    this.#seen.set(key, kept);
    return true;
  }
}

/** a ⊆ b; a missing word counts as zero. */
function subsetBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (((a[i] as number) & ~(b[i] ?? 0)) !== 0) return false;
  return true;
}

/** Where the search got furthest before failing, for the explanation. */
interface DeepestFailure {
  prefix: number[];
  state: number;
  blocker: number;
  candidates: number[];
}

interface Frame {
  node: number;
  state: number;
  /** The scan was in the second pass, over never-returned calls sorting before `bound`. */
  lostPass: boolean;
  bound: number;
  /** Chosen by partial-order reduction: no alternative at this depth needs trying. */
  forced: boolean;
}

/**
 * The depth-first search over one key. The candidates to linearize next are the calls that sort
 * before the first return entry; they are tried in two passes, completed operations first and
 * never-returned ones second, so that configurations are first reached with as few optional
 * operations as possible and the cache's dominance check prunes the rest.
 */
class Search {
  deepest: DeepestFailure | undefined;
  readonly #ops: readonly SearchOp[];
  readonly #l: EntryList;
  readonly #set: LinearizedSet;
  readonly #cache = new ConfigurationCache();
  readonly #stack: Frame[] = [];
  /** Per class of twins, how many are linearized: always the earliest-called ones. */
  readonly #twinsDone: Int32Array;
  #remainingReturns: number;
  #state = 0;
  #lostPass = false;
  /** In the second pass: the first return entry; only calls sorting before it are candidates. */
  #bound = -1;
  #node: number;

  constructor(ops: readonly SearchOp[]) {
    this.#ops = ops;
    this.#l = buildEntries(ops);
    this.#set = new LinearizedSet(ops);
    this.#twinsDone = new Int32Array(ops.length);
    this.#remainingReturns = ops.filter((o) => !o.pending).length;
    this.#node = this.#l.next[0] as number;
  }

  /** true: linearizable; false: not; undefined: the budget ran out first. */
  run(budget: number): boolean | undefined {
    const l = this.#l;
    for (let steps = 0; this.#remainingReturns > 0; steps++) {
      if (steps >= budget) return undefined;
      const node = this.#node;
      if (!this.#lostPass && node === -1) throw new Error('linearizability search walked off the entry list (internal error)');
      if (this.#lostPass && (node === -1 || node > this.#bound)) {
        if (!this.#backtrack()) return false;
      } else if (l.isCall[node] === 1) {
        if (!this.#maybeLinearize(node, this.#ops[l.op[node] as number] as SearchOp)) this.#node = l.next[node] as number;
      } else {
        this.#lostPass = true;
        this.#bound = node;
        this.#node = l.next[l.lostHead] as number;
      }
    }
    return true;
  }

  #maybeLinearize(node: number, op: SearchOp): boolean {
    // Symmetry reduction: never-returned twins (same kind, value and expected) are
    // interchangeable, and the earliest-called one can stand in wherever a later one is used.
    if (op.pending && op.rank !== this.#twinsDone[op.twins]) return false;
    const next = step(this.#state, op);
    if (next === -1) return false;
    this.#set.toggle(op);
    if (!this.#cache.add(this.#set, next)) {
      this.#set.toggle(op);
      return false;
    }
    // Partial-order reduction: a completed read-only operation (a get, a failed cas, a cas of a
    // value to itself) changes no state wherever it goes, so when it fits now it can be moved
    // to the front of any linearization that works from here: no other choice needs trying.
    // (A put of the current value does not qualify: at its later place it may undo a write.)
    const forced = !op.pending && op.readOnly;
    this.#stack.push({ node, state: this.#state, lostPass: this.#lostPass, bound: this.#bound, forced });
    this.#state = next;
    if (op.pending) this.#twinsDone[op.twins] = (this.#twinsDone[op.twins] as number) + 1;
    unlink(this.#l, node);
    const ret = this.#l.match[node] as number;
    if (ret !== -1) {
      unlink(this.#l, ret);
      this.#remainingReturns--;
    }
    this.#node = this.#l.next[0] as number;
    this.#lostPass = false;
    return true;
  }

  /** No candidate left before the first return entry: undo the last choice. */
  #backtrack(): boolean {
    const l = this.#l;
    if (this.deepest === undefined || this.#stack.length > this.deepest.prefix.length) {
      this.deepest = snapshot(l, this.#stack, this.#state, this.#bound);
    }
    for (;;) {
      const top = this.#stack.pop();
      if (top === undefined) return false;
      const op = this.#ops[l.op[top.node] as number] as SearchOp;
      this.#set.toggle(op);
      if (op.pending) this.#twinsDone[op.twins] = (this.#twinsDone[op.twins] as number) - 1;
      this.#state = top.state;
      this.#lostPass = top.lostPass;
      this.#bound = top.bound;
      const ret = l.match[top.node] as number;
      if (ret !== -1) {
        relink(l, ret);
        this.#remainingReturns++;
      }
      relink(l, top.node);
      this.#node = l.next[top.node] as number;
      if (!top.forced) return true;
    }
  }
}

function checkKey(key: string, history: readonly KvOperation[], budget: number): CheckResult {
  const ops = internOperations(history);
  const search = new Search(ops);
  const verdict = search.run(budget);
  if (verdict === true) return { ok: true };
  if (verdict === undefined) {
    return { ok: 'unknown', key, reason: `key ${JSON.stringify(key)}: gave up after ${budget} search steps over ${ops.length} operations` };
  }
  return { ok: false, key, explanation: explain(key, ops, search.deepest as DeepestFailure) };
}

function snapshot(l: EntryList, stack: readonly { node: number }[], state: number, blockerNode: number): DeepestFailure {
  const candidates: number[] = [];
  for (let n = l.next[0] as number; n !== blockerNode && n !== -1; n = l.next[n] as number) {
    if (l.isCall[n] === 1) candidates.push(l.op[n] as number);
  }
  for (let n = l.next[l.lostHead] as number; n !== -1 && n < blockerNode; n = l.next[n] as number) candidates.push(l.op[n] as number);
  return { prefix: stack.map((s) => l.op[s.node] as number), state, blocker: l.op[blockerNode] as number, candidates };
}

function explain(key: string, ops: readonly SearchOp[], d: DeepestFailure): string {
  const source = (i: number): KvOperation => (ops[i] as SearchOp).source;
  const show = (indices: readonly number[]): string => {
    if (indices.length === 0) return 'none';
    // The end of a long prefix is where it went wrong.
    const skipped = Math.max(0, indices.length - listLimit);
    const shown = indices.slice(skipped).map((i) => describeOperation(source(i)));
    return (skipped > 0 ? `(${skipped} earlier) ... ` : '') + shown.join('; ');
  };
  // Replaying the prefix with the real values names the state even where the search folded it.
  let value: string | undefined;
  for (const i of d.prefix) {
    const op = source(i);
    if (op.kind === 'put' || (op.kind === 'cas' && value === op.expected)) value = op.value;
  }
  const n = d.prefix.length;
  return [
    `key ${JSON.stringify(key)}: the ${ops.length} operations on this key are not linearizable.`,
    `Longest linearizable prefix found (${n} operation${n === 1 ? '' : 's'}): ${show(d.prefix)},`,
    `leaving ${JSON.stringify(key)} ${value === undefined ? 'absent' : `= ${JSON.stringify(value)}`}.`,
    `Then ${describeOperation(source(d.blocker))} must take effect before it returns, but none of`,
    `the operations that could go next fits a key-value register: ${show(d.candidates)}.`,
  ].join(' ');
}

/** Human-readable operation, e.g. `client 3 get("k") -> "v" [4, 9]`; pending ends `[4, ∞)`. */
export function describeOperation(op: KvOperation): string {
  const q = (v: string | undefined): string => (v === undefined ? 'absent' : JSON.stringify(v));
  const span = op.ret === undefined ? `[${op.call}, ∞) (never returned)` : `[${op.call}, ${op.ret}]`;
  const out = op.ret === undefined ? '' : op.kind === 'get' ? ` -> ${q(op.output as string | undefined)}` : op.kind === 'cas' ? ` -> ${String(op.output)}` : '';
  const args = op.kind === 'put' ? `, ${q(op.value)}` : op.kind === 'cas' ? `, ${q(op.expected)}, ${q(op.value)}` : '';
  return `client ${op.clientId} ${op.kind}(${JSON.stringify(op.key)}${args})${out} ${span}`;
}

export type KvInput =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'get'; key: string }
  | { kind: 'cas'; key: string; expected: string | undefined; value: string };

/**
 * Records a client history as the simulator runs: invoke() when a client sends a request,
 * complete() when it sees the response, nothing at all when the outcome stays unknown.
 */
export class HistoryRecorder {
  #ops: (KvOperation | undefined)[] = [];
  #open = new Set<number>();

  /** Records the call; returns the id to complete() or discard() it with. */
  invoke(clientId: number, input: KvInput, time: number): number {
    const op: KvOperation = { clientId, ...input, call: time, ret: undefined };
    validateOperation(op, `invoke by client ${clientId}`);
    this.#ops.push(op);
    this.#open.add(this.#ops.length - 1);
    return this.#ops.length - 1;
  }

  /** Records the response: a get's value (undefined: absent), a cas's boolean, a put's nothing. */
  complete(id: number, output: string | boolean | undefined, time: number): void {
    const done: KvOperation = { ...this.#openOperation(id), output, ret: time };
    validateOperation(done, `complete(${id})`);
    this.#open.delete(id);
    this.#ops[id] = done;
  }

  /**
   * The operation definitely did not take effect (say, refused before it was proposed). Only
   * when certain: a request that reached a leader may still commit after a timeout or a
   * "leader changed" error, and must then stay pending instead.
   */
  discard(id: number): void {
    this.#openOperation(id);
    this.#open.delete(id);
    this.#ops[id] = undefined;
  }

  /** Ids invoked but neither completed nor discarded: they stay pending in history(). */
  pending(): number[] {
    return [...this.#open];
  }

  history(): KvOperation[] {
    return this.#ops.filter((op): op is KvOperation => op !== undefined).map((op) => ({ ...op }));
  }

  #openOperation(id: number): KvOperation {
    const op = this.#ops[id];
    if (op === undefined || !this.#open.has(id)) throw new Error(`operation ${id} is not open`);
    return op;
  }
}
