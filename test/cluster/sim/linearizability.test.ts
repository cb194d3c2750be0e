import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkLinearizable, describeOperation, HistoryRecorder } from './linearizability.ts';
import type { KvOperation } from './linearizability.ts';

// Small builders: client, key, arguments, output, [call, ret]; ret undefined = never returned.
const put = (clientId: number, key: string, value: string, call: number, ret: number | undefined): KvOperation =>
  ({ clientId, kind: 'put', key, value, call, ret });
const get = (clientId: number, key: string, output: string | undefined, call: number, ret: number | undefined): KvOperation =>
  ({ clientId, kind: 'get', key, output, call, ret });
const cas = (clientId: number, key: string, expected: string | undefined, value: string, output: boolean | undefined, call: number, ret: number | undefined): KvOperation =>
  ({ clientId, kind: 'cas', key, expected, value, output, call, ret });

function assertRejected(history: readonly KvOperation[], key: string): string {
  const result = checkLinearizable(history);
  assert.equal(result.ok, false, 'the history should be rejected');
  assert.ok(result.ok === false);
  assert.equal(result.key, key);
  assert.match(result.explanation, new RegExp(`key "${key}"`));
  return result.explanation;
}

describe('linearizability checker: hand-written histories', () => {
  test('an empty history and a single write followed by its read are linearizable', () => {
    assert.deepEqual(checkLinearizable([]), { ok: true });
    assert.deepEqual(checkLinearizable([put(1, 'x', 'a', 0, 1), get(2, 'x', 'a', 2, 3)]), { ok: true });
  });

  test('a read before any write sees the key absent', () => {
    assert.deepEqual(checkLinearizable([get(1, 'x', undefined, 0, 1), put(1, 'x', 'a', 2, 3)]), { ok: true });
    assertRejected([put(1, 'x', 'a', 0, 1), get(2, 'x', undefined, 2, 3)], 'x');
  });

  test('reads overlapping a write may see the old or the new value, in a consistent order', () => {
    const history = [
      put(1, 'x', 'a', 0, 1),
      put(1, 'x', 'b', 2, 20),
      get(2, 'x', 'b', 3, 5),
      get(3, 'x', 'a', 4, 6),
      get(4, 'x', 'b', 7, 8),
    ];
    assert.deepEqual(checkLinearizable(history), { ok: true });
  });

  test('concurrent writes may take effect in either order', () => {
    const writes = [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 1, 9)];
    assert.deepEqual(checkLinearizable([...writes, get(3, 'x', 'a', 11, 12)]), { ok: true });
    assert.deepEqual(checkLinearizable([...writes, get(3, 'x', 'b', 11, 12)]), { ok: true });
  });

  test('a stale read after a completed write is rejected and the explanation names the key', () => {
    const explanation = assertRejected([put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(2, 'x', 'a', 4, 5)], 'x');
    assert.match(explanation, /client 2 get\("x"\) -> "a" \[4, 5\]/);
    assert.match(explanation, /leaving "x" = "b"/);
  });

  test('two readers that observe two concurrent writes in opposite orders are rejected', () => {
    const history = [
      put(1, 'x', 'a', 0, 10),
      put(2, 'x', 'b', 0, 10),
      get(3, 'x', 'a', 1, 2),
      get(3, 'x', 'b', 3, 4),
      get(4, 'x', 'b', 1, 2),
      get(4, 'x', 'a', 3, 4),
    ];
    assertRejected(history, 'x');
  });

  test('a read of a value never written is rejected', () => {
    assertRejected([put(1, 'k', 'a', 0, 5), get(2, 'k', 'zzz', 1, 6)], 'k');
  });

  test('a value read once cannot be replaced by the older value on a later read', () => {
    assertRejected([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, 10), get(3, 'x', 'b', 3, 4), get(3, 'x', 'a', 5, 6)], 'x');
  });

  test('a compare-and-swap succeeds only when the key holds the expected value', () => {
    assert.deepEqual(checkLinearizable([cas(1, 'x', undefined, 'a', true, 0, 1), get(2, 'x', 'a', 2, 3)]), { ok: true });
    assert.deepEqual(checkLinearizable([put(1, 'x', 'a', 0, 1), cas(2, 'x', 'b', 'c', false, 2, 3), get(2, 'x', 'a', 4, 5)]), { ok: true });
    assertRejected([put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', false, 2, 3)], 'x');
    assertRejected([put(1, 'x', 'a', 0, 1), cas(2, 'x', 'z', 'b', true, 2, 3)], 'x');
    assertRejected([put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', true, 2, 3), get(3, 'x', 'a', 4, 5)], 'x');
  });

  test('of two concurrent identical compare-and-swaps exactly one may succeed', () => {
    const setup = put(1, 'x', 'a', 0, 1);
    assert.deepEqual(checkLinearizable([setup, cas(2, 'x', 'a', 'b', true, 2, 5), cas(3, 'x', 'a', 'b', false, 2, 5)]), { ok: true });
    assertRejected([setup, cas(2, 'x', 'a', 'b', true, 2, 5), cas(3, 'x', 'a', 'b', true, 2, 5)], 'x');
  });

  test('an operation returning at the instant another is called counts as concurrent with it', () => {
    assert.deepEqual(checkLinearizable([put(1, 'x', 'a', 0, 5), get(2, 'x', undefined, 5, 6)]), { ok: true });
    assertRejected([put(1, 'x', 'a', 0, 4), get(2, 'x', undefined, 5, 6)], 'x');
  });

  test('each key is checked on its own and the failing key is the one named', () => {
    const history = [
      put(1, 'x', 'a', 0, 1), get(2, 'x', 'a', 2, 3),
      put(1, 'y', 'a', 0, 1), put(1, 'y', 'b', 2, 3), get(2, 'y', 'a', 4, 5),
    ];
    assertRejected(history, 'y');
    // Per key these are fine, even though a single global order of all four ops is impossible
    // to read off: locality says per-key linearizability is enough.
    const local = [put(1, 'x', 'a', 0, 10), put(2, 'y', 'a', 0, 10), get(3, 'x', 'a', 1, 2), get(3, 'y', undefined, 3, 4)];
    assert.deepEqual(checkLinearizable(local), { ok: true });
  });
});

describe('linearizability checker: operations whose outcome is unknown', () => {
  test('a write that never returned may be read as taken effect or as not', () => {
    const lost = put(1, 'x', 'a', 0, undefined);
    assert.deepEqual(checkLinearizable([lost, get(2, 'x', 'a', 5, 6)]), { ok: true });
    assert.deepEqual(checkLinearizable([lost, get(2, 'x', undefined, 5, 6)]), { ok: true });
    assert.deepEqual(checkLinearizable([lost, get(2, 'x', undefined, 5, 6), get(2, 'x', 'a', 100, 101)]), { ok: true });
  });

  test('a write that never returned cannot take effect before its call or be undone once seen', () => {
    assertRejected([get(2, 'x', 'a', 0, 1), put(1, 'x', 'a', 2, undefined)], 'x');
    assertRejected([put(1, 'x', 'a', 0, undefined), get(2, 'x', 'a', 5, 6), get(2, 'x', undefined, 7, 8)], 'x');
  });

  test('a compare-and-swap that never returned may have swapped or not', () => {
    const history = [put(1, 'x', 'a', 0, 1), cas(2, 'x', 'a', 'b', undefined, 2, undefined)];
    assert.deepEqual(checkLinearizable([...history, get(3, 'x', 'b', 5, 6)]), { ok: true });
    assert.deepEqual(checkLinearizable([...history, get(3, 'x', 'a', 5, 6)]), { ok: true });
    assertRejected([...history, get(3, 'x', 'c', 5, 6)], 'x');
  });

  test('a lost write may take effect long after its call, after another lost write was needed first', () => {
    // Found by the comparison with the reference search: a cache that let a configuration with
    // more lost writes stand in for one with fewer wrongly rejected this.
    const history = [
      put(1, 'x', 'b', 100, undefined), put(2, 'x', 'a', 200, 200), put(3, 'x', 'c', 300, undefined),
      get(2, 'x', 'c', 400, 400), put(2, 'x', 'a', 500, 500), get(2, 'x', 'b', 1000, 1000),
    ];
    assert.deepEqual(checkLinearizable(history), { ok: true });
    assertRejected([...history, get(2, 'x', 'c', 1100, 1100)], 'x');
  });

  test('a read that never returned constrains nothing', () => {
    assert.deepEqual(checkLinearizable([get(1, 'x', undefined, 0, undefined), put(2, 'x', 'a', 1, 2)]), { ok: true });
  });

  test('many lost writes are still checked, each one optional', () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 12; i++) history.push(put(i, 'x', `v${i}`, i, undefined));
    history.push(get(20, 'x', 'v3', 20, 21), get(20, 'x', 'v7', 22, 23), get(20, 'x', 'v7', 24, 25));
    assert.deepEqual(checkLinearizable(history), { ok: true });
    assertRejected([...history, get(20, 'x', 'v3', 26, 27)], 'x');
  });
});

describe('linearizability checker: inputs and limits', () => {
  test('a malformed operation is refused with its index', () => {
    assert.throws(() => checkLinearizable([put(1, 'x', 'a', 5, 4)]), /history\[0\]: ret must be/);
    assert.throws(() => checkLinearizable([get(1, 'x', 'a', 0, 1), cas(1, 'x', 'a', 'b', undefined, 2, 3)]), /history\[1\]: a completed cas needs a boolean/);
    assert.throws(() => checkLinearizable([{ ...put(1, 'x', 'a', 0, 1), kind: 'delete' as 'put' }]), /unknown kind "delete"/);
    assert.throws(() => checkLinearizable([null as unknown as KvOperation]), /history\[0\]: not an operation object/);
    assert.throws(() => checkLinearizable([put(1, 'x', 'a', Number.NaN, 1)]), /call must be a finite number/);
    assert.throws(() => checkLinearizable([], { timeoutSteps: 0 }), /timeoutSteps must be a positive integer/);
  });

  test('a search that exceeds its step budget answers unknown and names the key', () => {
    const history = [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 0, 10), get(3, 'x', 'b', 11, 12)];
    const result = checkLinearizable(history, { timeoutSteps: 2 });
    assert.equal(result.ok, 'unknown');
    assert.ok(result.ok === 'unknown');
    assert.equal(result.key, 'x');
    assert.match(result.reason, /gave up after 2 search steps/);
  });

  test('a definite violation on one key wins over a search that ran out of budget on another', () => {
    // Keys are checked smallest first: "x" runs out of its 3 steps, then "y" fails within them.
    const busy = [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 0, 10), get(3, 'x', 'a', 11, 12)];
    assert.equal(checkLinearizable(busy, { timeoutSteps: 3 }).ok, 'unknown');
    const broken = [get(4, 'y', 'never', 0, 1), ...['a', 'b', 'c', 'd'].map((v, i) => put(4, 'y', v, 2 + i, 2 + i))];
    const result = checkLinearizable([...busy, ...broken], { timeoutSteps: 3 });
    assert.equal(result.ok, false);
    assert.ok(result.ok === false);
    assert.equal(result.key, 'y');
  });

  test('a long explanation shows the end of the prefix, where it went wrong', () => {
    const history = Array.from({ length: 20 }, (_, i) => put(1, 'x', `v${i}`, 2 * i, 2 * i + 1));
    const explanation = assertRejected([...history, get(2, 'x', 'v3', 100, 101)], 'x');
    assert.match(explanation, /prefix found \(20 operations\): \(8 earlier\) \.\.\. client 1 put\("x", "v8"\)/);
    assert.match(explanation, /leaving "x" = "v19"/);
  });

  test('operations are described with client, arguments, output and interval', () => {
    assert.equal(describeOperation(cas(4, 'k', undefined, 'v', true, 3, 9)), 'client 4 cas("k", absent, "v") -> true [3, 9]');
    assert.equal(describeOperation(put(1, 'k', 'v', 3, undefined)), 'client 1 put("k", "v") [3, ∞) (never returned)');
  });
});

describe('history recorder', () => {
  test('records calls, responses, discarded and still-pending operations', () => {
    const recorder = new HistoryRecorder();
    const w = recorder.invoke(1, { kind: 'put', key: 'x', value: 'a' }, 0);
    const r = recorder.invoke(2, { kind: 'get', key: 'x' }, 1);
    const refused = recorder.invoke(3, { kind: 'put', key: 'x', value: 'never' }, 1);
    const lost = recorder.invoke(3, { kind: 'cas', key: 'x', expected: 'a', value: 'b' }, 2);
    recorder.complete(w, undefined, 3);
    recorder.complete(r, 'a', 4);
    recorder.discard(refused);
    assert.deepEqual(recorder.pending(), [lost]);
    // JSON round trip: an absent property and one set to undefined mean the same here.
    const plain = (ops: readonly KvOperation[]): unknown => JSON.parse(JSON.stringify(ops));
    assert.deepEqual(plain(recorder.history()), plain([put(1, 'x', 'a', 0, 3), get(2, 'x', 'a', 1, 4), cas(3, 'x', 'a', 'b', undefined, 2, undefined)]));
    assert.deepEqual(checkLinearizable(recorder.history()), { ok: true });
    assert.throws(() => recorder.complete(w, undefined, 5), /operation 0 is not open/);
    assert.throws(() => recorder.complete(99, undefined, 5), /operation 99 is not open/);
  });

  test('a response with the wrong shape is refused when recorded', () => {
    const recorder = new HistoryRecorder();
    const c = recorder.invoke(1, { kind: 'cas', key: 'x', expected: undefined, value: 'a' }, 0);
    assert.throws(() => recorder.complete(c, 'yes', 1), /complete\(0\): a completed cas needs a boolean output/);
  });
});

// ---------------------------------------------------------------------------------------------
// Generated histories. A sequential executor runs operations one at a time against a plain Map
// (the linearization points are 100, 200, ...), then gives each one a call/return interval
// around its point: such a history is linearizable by construction.

type Fate = 'returned' | 'lost-applied' | 'lost-dropped';
interface OpSpec {
  clientId: number;
  kind: 'put' | 'get' | 'cas';
  key: string;
  value: string;
  expected: string | undefined;
  before: number;
  after: number;
  fate: Fate;
}

function execute(specs: readonly OpSpec[]): KvOperation[] {
  const store = new Map<string, string>();
  return specs.map((s, i) => {
    const point = (i + 1) * 100;
    const applied = s.fate !== 'lost-dropped';
    const base = { clientId: s.clientId, key: s.key, call: point - s.before, ret: s.fate === 'returned' ? point + s.after : undefined };
    if (s.kind === 'put') {
      if (applied) store.set(s.key, s.value);
      return { ...base, kind: 'put', value: s.value };
    }
    if (s.kind === 'get') return { ...base, kind: 'get', output: applied ? store.get(s.key) : undefined };
    const swapped = applied && store.get(s.key) === s.expected;
    if (swapped) store.set(s.key, s.value);
    return { ...base, kind: 'cas', expected: s.expected, value: s.value, output: s.fate === 'returned' ? swapped : undefined };
  });
}

const specArbitrary = (keys: readonly string[], values: readonly string[], reach: number): fc.Arbitrary<OpSpec> =>
  fc.record({
    clientId: fc.integer({ min: 1, max: 8 }),
    kind: fc.constantFrom('put', 'get', 'cas'),
    key: fc.constantFrom(...keys),
    value: fc.constantFrom(...values),
    expected: fc.constantFrom(undefined, ...values),
    before: fc.integer({ min: 0, max: reach }),
    after: fc.integer({ min: 0, max: reach }),
    fate: fc.constantFrom<Fate>('returned', 'returned', 'returned', 'returned', 'lost-applied', 'lost-dropped'),
  });

describe('linearizability checker: generated histories', () => {
  test('every history produced by a sequential executor with overlapping intervals is accepted', () => {
    fc.assert(
      fc.property(fc.array(specArbitrary(['x', 'y', 'z'], ['a', 'b', 'c', 'd'], 350), { maxLength: 60 }), (specs) => {
        assert.deepEqual(checkLinearizable(execute(specs)), { ok: true });
      }),
      { numRuns: 300 },
    );
  });

  test('corrupting one completed read to a never-written value is always rejected on that key', () => {
    const arbitrary = fc.tuple(fc.array(specArbitrary(['x', 'y', 'z'], ['a', 'b', 'c'], 350), { minLength: 1, maxLength: 60 }), fc.nat());
    fc.assert(
      fc.property(arbitrary, ([specs, pick]) => {
        const history = execute(specs);
        const reads = history.flatMap((op, i) => (op.kind === 'get' && op.ret !== undefined ? [i] : []));
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length] as number;
        const bad = history.map((op, i) => (i === victim ? { ...op, output: 'never-written' } : op));
        const result = checkLinearizable(bad);
        assert.equal(result.ok, false);
        assert.ok(result.ok === false);
        assert.equal(result.key, (history[victim] as KvOperation).key);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A dumb model to check the clever one against (style: etcd raft quorum/quick_test.go): try
// every subset of the never-returned operations and every permutation of the chosen ones,
// on the whole multi-key history at once (no per-key partitioning, no memoization).

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const tail of permutations(rest)) yield [items[i] as T, ...tail];
  }
}

/** Whether executing `order` from a store where the first key holds `initial` matches every output and real-time order. */
function isLegalSequence(order: readonly KvOperation[], initial?: string): boolean {
  const end = (op: KvOperation): number => op.ret ?? Infinity;
  for (let i = 0; i < order.length; i++) {
    for (let j = i + 1; j < order.length; j++) if (end(order[j] as KvOperation) < (order[i] as KvOperation).call) return false;
  }
  const store = new Map<string, string>();
  if (initial !== undefined && order[0] !== undefined) store.set(order[0].key, initial);
  for (const op of order) {
    const current = store.get(op.key);
    if (op.kind === 'put') store.set(op.key, op.value as string);
    else if (op.kind === 'get' && op.ret !== undefined && op.output !== current) return false;
    else if (op.kind === 'cas') {
      const swaps = current === op.expected;
      if (op.ret !== undefined && op.output !== swaps) return false;
      if (swaps) store.set(op.key, op.value as string);
    }
  }
  return true;
}

function bruteForceLinearizable(history: readonly KvOperation[]): boolean {
  const done = history.filter((op) => op.ret !== undefined);
  const lost = history.filter((op) => op.ret === undefined);
  for (let mask = 0; mask < 1 << lost.length; mask++) {
    const chosen = [...done, ...lost.filter((_, i) => (mask >> i) & 1)];
    for (const order of permutations(chosen)) if (isLegalSequence(order)) return true;
  }
  return false;
}

/**
 * Wing & Gong with a plain (linearized set, whole store) memo and none of the checker's
 * reductions or per-key partitioning: slow, but simple enough to trust on ~30 operations.
 */
function referenceLinearizable(history: readonly KvOperation[]): boolean {
  const ops = history.filter((op) => op.ret !== undefined || op.kind !== 'get');
  const linearized = ops.map(() => false);
  const store = new Map<string, string>();
  const failed = new Set<string>();
  const search = (remaining: number): boolean => {
    if (remaining === 0) return true;
    const memo = linearized.map(Number).join('') + JSON.stringify([...store].sort());
    if (failed.has(memo)) return false;
    const bound = Math.min(...ops.filter((op, i) => !linearized[i] && op.ret !== undefined).map((op) => op.ret as number));
    for (const [i, op] of ops.entries()) {
      if (linearized[i] || op.call > bound) continue;
      const before = store.get(op.key);
      if (!isLegalSequence([op], before)) continue;
      linearized[i] = true;
      if (op.kind === 'put' || (op.kind === 'cas' && before === op.expected)) store.set(op.key, op.value as string);
      const found = search(remaining - (op.ret === undefined ? 0 : 1));
      if (before === undefined) store.delete(op.key);
      else store.set(op.key, before);
      linearized[i] = false;
      if (found) return true;
    }
    failed.add(memo);
    return false;
  };
  return search(ops.filter((op) => op.ret !== undefined).length);
}

const randomOperation = fc.record({
  clientId: fc.integer({ min: 1, max: 4 }),
  kind: fc.constantFrom<'put' | 'get' | 'cas'>('put', 'get', 'get', 'cas'),
  key: fc.constantFrom('x', 'y'),
  // 'c' is written but never read: the checker folds such values into one state.
  value: fc.constantFrom('a', 'b', 'c'),
  expected: fc.constantFrom(undefined, 'a', 'b'),
  read: fc.constantFrom(undefined, 'a', 'b'),
  swapped: fc.boolean(),
  call: fc.integer({ min: 0, max: 12 }),
  length: fc.integer({ min: 0, max: 6 }),
  lost: fc.integer({ min: 0, max: 3 }),
}).map(({ read, swapped, length, lost, ...op }): KvOperation => {
  const ret = lost === 0 ? undefined : op.call + length;
  if (op.kind === 'put') return { clientId: op.clientId, kind: 'put', key: op.key, value: op.value, call: op.call, ret };
  if (op.kind === 'get') return { clientId: op.clientId, kind: 'get', key: op.key, output: read, call: op.call, ret };
  return { ...op, kind: 'cas', output: ret === undefined ? undefined : swapped, ret };
});

/** A linearizable history with one read output or one interval changed at random. */
const perturbedHistory = fc
  .tuple(fc.array(specArbitrary(['x', 'y'], ['a', 'b'], 150), { minLength: 1, maxLength: 7 }), fc.nat(), fc.constantFrom(undefined, 'a', 'b'), fc.integer({ min: -300, max: 300 }))
  .map(([specs, pick, read, shift]) =>
    execute(specs).map((op, i) => {
      if (i !== pick % specs.length) return op;
      if (op.kind === 'get' && op.ret !== undefined && shift % 2 === 0) return { ...op, output: read };
      return { ...op, call: op.call + shift, ret: op.ret === undefined ? undefined : Math.max(op.ret + shift, op.call + shift) };
    }),
  );

describe('linearizability checker agrees with a brute-force checker', () => {
  test('on small random and perturbed histories the verdicts are identical', () => {
    const verdicts = { accepted: 0, rejected: 0 };
    fc.assert(
      fc.property(fc.oneof(fc.array(randomOperation, { maxLength: 7 }), perturbedHistory), (history) => {
        const expected = bruteForceLinearizable(history);
        assert.equal(checkLinearizable(history).ok, expected, JSON.stringify(history));
        verdicts[expected ? 'accepted' : 'rejected']++;
      }),
      { numRuns: 1500 },
    );
    // Both verdicts must be common, or the comparison proves little.
    assert.ok(verdicts.accepted > 300 && verdicts.rejected > 300, JSON.stringify(verdicts));
  });

  test('on medium histories with many lost operations it agrees with an unoptimized Wing & Gong search', () => {
    const verdicts = { accepted: 0, rejected: 0 };
    const medium = fc
      .tuple(fc.array(specArbitrary(['x', 'y'], ['a', 'b', 'c'], 250), { minLength: 10, maxLength: 30 }), fc.nat(), fc.constantFrom(undefined, 'a', 'b'))
      .map(([specs, pick, read]) => {
        const history = execute(specs);
        const reads = history.flatMap((op, i) => (op.kind === 'get' && op.ret !== undefined ? [i] : []));
        const victim = reads[pick % Math.max(reads.length, 1)];
        return history.map((op, i) => (i === victim ? { ...op, output: read } : op));
      });
    fc.assert(
      fc.property(medium, (history) => {
        const expected = referenceLinearizable(history);
        assert.equal(checkLinearizable(history).ok, expected, JSON.stringify(history));
        verdicts[expected ? 'accepted' : 'rejected']++;
      }),
      { numRuns: 400 },
    );
    assert.ok(verdicts.accepted > 50 && verdicts.rejected > 50, JSON.stringify(verdicts));
  });
});

// ---------------------------------------------------------------------------------------------
// Performance: the simulator checks long histories after every seed.

/** Deterministic mulberry32, so the performance history is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function largeHistory(seed: number, operations: number): KvOperation[] {
  const random = prng(seed);
  const pickOf = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
  const specs: OpSpec[] = Array.from({ length: operations }, () => ({
    clientId: 1 + Math.floor(random() * 8),
    kind: pickOf(['put', 'get', 'get', 'cas'] as const),
    key: pickOf(['k0', 'k1', 'k2', 'k3', 'k4']),
    value: pickOf(values),
    expected: pickOf([undefined, ...values]),
    // Up to ~8 operations in flight at once, like 8 clients each with one request outstanding.
    before: Math.floor(random() * 400),
    after: Math.floor(random() * 400),
    fate: random() < 0.005 ? pickOf(['lost-applied', 'lost-dropped'] as const) : 'returned',
  }));
  return execute(specs);
}

// Bounded by search steps, not wall-clock time: deterministic on a loaded CI machine. About a
// microsecond per step here, so this budget is a fraction of a second.
const STEP_BUDGET = 200_000;

describe('linearizability checker effort', () => {
  test('a 2000-operation, 5-key, 8-client history is accepted within a small step budget', () => {
    const history = largeHistory(4, 2000);
    assert.deepEqual(checkLinearizable(history, { timeoutSteps: STEP_BUDGET }), { ok: true });
  });

  test('the same history with one corrupted read late in it is rejected within the same budget', () => {
    const history = largeHistory(4, 2000);
    const victim = history.findLastIndex((op) => op.kind === 'get' && op.ret !== undefined);
    const result = checkLinearizable(
      history.map((op, i) => (i === victim ? { ...op, output: 'never-written' } : op)),
      { timeoutSteps: STEP_BUDGET },
    );
    assert.equal(result.ok, false);
  });
});
