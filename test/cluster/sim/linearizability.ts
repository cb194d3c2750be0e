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
// the reachable configurations. The set is a bitset keyed by a Zobrist hash kept incrementally.
//
// P-compositionality (Horn & Kroening 2015; Herlihy & Wing's locality): every operation touches
// exactly one key, and a history is linearizable iff its restriction to each key is, so each
// key is checked on its own, with a one-value model state.
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

export function validateOperation(op: KvOperation, where: string): void {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
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
  value: number;
  expected: number;
  /** get: the value id read; cas: 1 swapped, 0 not. */
  output: number;
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

function internOperations(ops: readonly KvOperation[]): { ops: SearchOp[]; names: (string | undefined)[] } {
  const ids = new Map<string, number>();
  const names: (string | undefined)[] = [undefined];
  const intern = (v: string | undefined): number => {
    if (v === undefined) return 0;
    let id = ids.get(v);
    if (id === undefined) {
      id = names.length;
      ids.set(v, id);
      names.push(v);
    }
    return id;
  };
  const searchOps: SearchOp[] = [];
  for (const op of ops) {
    const pending = op.ret === undefined;
    // A read that never returned observed nothing and changed nothing.
    if (pending && op.kind === 'get') continue;
    const output = op.kind === 'cas' ? Number(op.output === true) : op.kind === 'get' ? intern(op.output as string | undefined) : 0;
    searchOps.push({ source: op, kind: op.kind, pending, value: intern(op.value), expected: intern(op.expected), output });
  }
  return { ops: searchOps, names };
}

/** The call/return entry list, as index arrays; node 0 is the head sentinel, -1 is null. */
interface EntryList {
  next: Int32Array;
  prev: Int32Array;
  op: Int32Array;
  isCall: Uint8Array;
  /** For a call node, its return node (-1: pending). */
  match: Int32Array;
}

function buildEntries(ops: readonly SearchOp[]): EntryList {
  const raw: { time: number; isCall: boolean; op: number }[] = [];
  ops.forEach((o, i) => {
    raw.push({ time: o.source.call, isCall: true, op: i });
    if (!o.pending) raw.push({ time: o.source.ret as number, isCall: false, op: i });
  });
  raw.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const size = raw.length + 1;
  const list: EntryList = {
    next: new Int32Array(size), prev: new Int32Array(size), op: new Int32Array(size),
    isCall: new Uint8Array(size), match: new Int32Array(size).fill(-1),
  };
  const callNode = new Int32Array(ops.length);
  raw.forEach((e, i) => {
    const node = i + 1;
    list.op[node] = e.op;
    list.isCall[node] = e.isCall ? 1 : 0;
    if (e.isCall) callNode[e.op] = node;
    else list.match[callNode[e.op] as number] = node;
  });
  for (let node = 0; node < size; node++) {
    list.next[node] = node + 1 < size ? node + 1 : -1;
    list.prev[node] = node - 1;
  }
  return list;
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

/** Lowe's cache of (linearized set, state) configurations already explored. */
class ConfigurationCache {
  #buckets = new Map<number, { bits: Uint32Array; state: number }[]>();

  /** Adds the configuration; false when it was already there. */
  add(hash: number, bits: Uint32Array, state: number): boolean {
    const key = (hash ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#buckets.set(key, [{ bits: bits.slice(), state }]);
      return true;
    }
    for (const seen of bucket) {
      if (seen.state === state && sameBits(seen.bits, bits)) return false;
    }
    bucket.push({ bits: bits.slice(), state });
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The set of linearized operations: a bitset plus its Zobrist hash, both updated in O(1). */
class LinearizedSet {
  readonly bits: Uint32Array;
  hash = 0;
  readonly #zobrist: Int32Array;

  constructor(size: number) {
    this.bits = new Uint32Array(Math.ceil(size / 32) || 1);
    this.#zobrist = zobristKeys(size);
  }

  toggle(op: number): void {
    this.bits[op >>> 5] = (this.bits[op >>> 5] as number) ^ (1 << (op & 31));
    this.hash ^= this.#zobrist[op] as number;
  }
}

/** Fixed-seed xorshift32: Zobrist keys must be well spread, and runs must be reproducible. */
function zobristKeys(count: number): Int32Array {
  const keys = new Int32Array(count);
  let x = 0x2545f491;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    keys[i] = x;
  }
  return keys;
}

/** Where the search got furthest before failing, for the explanation. */
interface DeepestFailure {
  prefix: number[];
  state: number;
  blocker: number;
  candidates: number[];
}

function checkKey(key: string, history: readonly KvOperation[], budget: number): CheckResult {
  const { ops, names } = internOperations(history);
  const l = buildEntries(ops);
  const set = new LinearizedSet(ops.length);
  const cache = new ConfigurationCache();
  const stack: { node: number; state: number }[] = [];
  let remainingReturns = ops.filter((o) => !o.pending).length;
  let state = 0;
  let deepest: DeepestFailure | undefined;
  let node = l.next[0] as number;
  for (let steps = 0; remainingReturns > 0; steps++) {
    if (steps >= budget) {
      return { ok: 'unknown', key, reason: `key ${JSON.stringify(key)}: gave up after ${budget} search steps over ${ops.length} operations` };
    }
    if (node === -1) throw new Error('linearizability search walked off the entry list (internal error)');
    if (l.isCall[node] === 1) {
      const o = l.op[node] as number;
      const next = step(state, ops[o] as SearchOp);
      if (next !== -1) {
        set.toggle(o);
        if (cache.add(set.hash, set.bits, next)) {
          stack.push({ node, state });
          state = next;
          unlink(l, node);
          const ret = l.match[node] as number;
          if (ret !== -1) {
            unlink(l, ret);
            remainingReturns--;
          }
          node = l.next[0] as number;
          continue;
        }
        set.toggle(o);
      }
      node = l.next[node] as number;
      continue;
    }
    // A return entry: its operation had to be linearized already. Undo the last choice.
    if (deepest === undefined || stack.length > deepest.prefix.length) deepest = snapshot(l, stack, state, node);
    const top = stack.pop();
    if (top === undefined) break;
    const o = l.op[top.node] as number;
    set.toggle(o);
    state = top.state;
    const ret = l.match[top.node] as number;
    if (ret !== -1) {
      relink(l, ret);
      remainingReturns++;
    }
    relink(l, top.node);
    node = l.next[top.node] as number;
  }
  if (remainingReturns === 0) return { ok: true };
  return { ok: false, key, explanation: explain(key, ops, names, deepest as DeepestFailure) };
}

function snapshot(l: EntryList, stack: readonly { node: number }[], state: number, blockerNode: number): DeepestFailure {
  const candidates: number[] = [];
  for (let n = l.next[0] as number; n !== blockerNode && n !== -1; n = l.next[n] as number) {
    if (l.isCall[n] === 1) candidates.push(l.op[n] as number);
  }
  return { prefix: stack.map((s) => l.op[s.node] as number), state, blocker: l.op[blockerNode] as number, candidates };
}

function explain(key: string, ops: readonly SearchOp[], names: readonly (string | undefined)[], d: DeepestFailure): string {
  const show = (indices: readonly number[]): string => {
    const shown = indices.slice(0, listLimit).map((i) => describeOperation((ops[i] as SearchOp).source));
    if (indices.length > listLimit) shown.push(`... and ${indices.length - listLimit} more`);
    return shown.length === 0 ? 'none' : shown.join('; ');
  };
  const blocker = describeOperation((ops[d.blocker] as SearchOp).source);
  return [
    `key ${JSON.stringify(key)}: the ${ops.length} operations on this key are not linearizable.`,
    `Longest linearizable prefix found (${d.prefix.length} operations): ${show(d.prefix)},`,
    `leaving ${JSON.stringify(key)} ${names[d.state] === undefined ? 'absent' : `= ${JSON.stringify(names[d.state])}`}.`,
    `Then ${blocker} must take effect before it returns, but none of the operations that`,
    `could go next fits a key-value register: ${show(d.candidates)}.`,
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

  /** The operation definitely did not take effect (say, refused before it was proposed). */
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
