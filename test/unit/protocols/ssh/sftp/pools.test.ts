// The recycled buffers of the SFTP hot path: a buffer is handed out again only after it was given
// back, never while a packet or reply still uses it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketFramer } from '../../../../../src/protocols/ssh/sftp/framer.ts';
import { ReplyBufferPool } from '../../../../../src/protocols/ssh/sftp/pool.ts';

function framed(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

/** Pushes one large packet split in two chunks (so the framer assembles it) and returns it. */
function splitPacket(framer: PacketFramer, fill: number): Buffer {
  const bytes = framed(Buffer.alloc(100 * 1024, fill));
  framer.push(bytes.subarray(0, 1000));
  framer.push(bytes.subarray(1000));
  const payload = framer.next();
  assert.ok(payload);
  return payload;
}

test('an assembled packet keeps its bytes until it is recycled, and its buffer is reused after', () => {
  const framer = new PacketFramer(256 * 1024);
  const first = splitPacket(framer, 1);
  const second = splitPacket(framer, 2);
  assert.notEqual(first.buffer, second.buffer, 'both packets are alive: separate buffers');
  assert.ok(first.every((b) => b === 1), 'the first packet is intact after the second arrived');
  framer.recycle(first);
  const third = splitPacket(framer, 3);
  assert.equal(third.buffer, first.buffer, 'the recycled buffer is reused');
  assert.ok(second.every((b) => b === 2));
});

test('the framer ignores buffers it did not assemble and forgets its pool on trim', () => {
  const framer = new PacketFramer(256 * 1024);
  const whole = framed(Buffer.alloc(100 * 1024, 7));
  framer.push(whole);
  const view = framer.next();
  assert.ok(view);
  framer.recycle(view); // a view into the caller's chunk: must never be handed out again
  const assembled = splitPacket(framer, 4);
  assert.notEqual(assembled.buffer, whole.buffer);
  framer.recycle(assembled);
  framer.trim();
  assert.notEqual(splitPacket(framer, 5).buffer, assembled.buffer, 'trimmed: a fresh buffer');
});

test('reply buffers come back only through recycle, and oversized requests get their own buffer', () => {
  const pool = new ReplyBufferPool(1024);
  const a = pool.take(500);
  const b = pool.take(1024);
  assert.notEqual(a, b);
  assert.ok(a.length >= 500 && b.length >= 1024);
  pool.recycle(a);
  assert.equal(pool.take(10), a, 'recycled buffer reused');
  const big = pool.take(4096);
  assert.equal(big.length, 4096);
  pool.recycle(big);
  pool.recycle(Buffer.alloc(1024)); // not from this pool
  const next = pool.take(1024);
  assert.notEqual(next, big);
  assert.equal(next.length, 1024);
  pool.recycle(b);
  pool.trim();
  assert.notEqual(pool.take(1024), b, 'trimmed: a fresh buffer');
});
