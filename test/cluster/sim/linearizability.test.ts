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
  });

  test('a search that exceeds its step budget answers unknown and names the key', () => {
    const history = [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 0, 10), get(3, 'x', 'b', 11, 12)];
    const result = checkLinearizable(history, { timeoutSteps: 2 });
    assert.equal(result.ok, 'unknown');
    assert.ok(result.ok === 'unknown');
    assert.equal(result.key, 'x');
    assert.match(result.reason, /gave up after 2 search steps/);
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
