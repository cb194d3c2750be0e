import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigDecodeError } from '../../../src/config/codec.ts';
import { canonicalJson, decodeCommand, decodeSnapshot, encodeCommand, encodeSnapshot } from '../../../src/config/codec.ts';
import { command, populated, user } from './fixtures.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

test('a command survives an encode/decode round trip', () => {
  const cmd = command({ type: 'user.put', user: user() });
  assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
});

test('decoding refuses unknown fields, unknown types, bad JSON and bad UTF-8', () => {
  const cmd = { ...command({ type: 'site.delete', siteId: 'x' }), extra: 1 };
  assert.throws(() => decodeCommand(bytes(JSON.stringify(cmd))), (error: ConfigDecodeError) => error.errors.some((e) => e.path === 'extra'));
  assert.throws(() => decodeCommand(bytes('{"type":"drop.tables","id":"a","at":1,"actor":"x"}')), /type must be one of/);
  assert.throws(() => decodeCommand(bytes('{"type":')), /not UTF-8 JSON/);
  assert.throws(() => decodeCommand(new Uint8Array([0x7b, 0xff, 0x7d])), /not UTF-8 JSON/);
  assert.throws(() => decodeCommand(bytes('{"type":"site.delete","siteId":"x","at":1,"actor":"x"}')), /id is required/);
  assert.throws(() => decodeCommand(bytes('{"__proto__":{"x":1},"type":"site.delete","siteId":"x","id":"a","at":1,"actor":"x"}')), /__proto__ is not a known field/);
});

test('equal states give equal snapshot bytes whatever the key insertion order', () => {
  const state = populated();
  const reordered = JSON.parse(canonicalJson(state), (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value,
  ) as typeof state;
  assert.notEqual(JSON.stringify(reordered), JSON.stringify(state));
  assert.deepEqual(encodeSnapshot(reordered), encodeSnapshot(state));
  assert.deepEqual(decodeSnapshot(encodeSnapshot(state)), state);
});

test('a snapshot with a wrong version, unknown fields or mismatched keys is refused', () => {
  const state = populated();
  assert.throws(() => decodeSnapshot(bytes(JSON.stringify({ version: 99, state }))), /another Ferry version/);
  assert.throws(() => decodeSnapshot(bytes(JSON.stringify({ version: 1, state: { ...state, extra: {} } }))), /state.extra is not a known field/);
  const alice = state.users['default/alice']!;
  const swapped = { ...state, users: { 'default/mallory': alice } };
  assert.throws(() => decodeSnapshot(bytes(JSON.stringify({ version: 1, state: swapped }))), /keyed 'default\/mallory'/);
});

test('canonical JSON sorts keys at every depth and keeps JSON semantics', () => {
  const value = { b: 1, a: { d: [3, { z: 1, y: undefined }], c: null }, u: undefined, ['__proto__']: 'kept' };
  assert.equal(canonicalJson(value), '{"__proto__":"kept","a":{"c":null,"d":[3,{"z":1}]},"b":1}');
  assert.equal(canonicalJson([undefined, 'x']), '[null,"x"]');
});
