import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FX, FXF, FXP } from '../../../../../src/protocols/ssh/sftp/constants.ts';
import { SftpWriter } from '../../../../../src/protocols/ssh/sftp/writer.ts';
import type { OpenFile } from '../../../../../src/session/types.ts';
import { startServer } from './harness.ts';
import { MemorySession } from './memory-session.ts';
import { NO_ATTRS, asHandle, asStatus } from './wire-client.ts';

function lengthPrefix(length: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(length, 0);
  return Buffer.concat([head, body]);
}

test('a packet length over 256 KiB closes the channel without buffering the payload', async (t) => {
  const { client, served, logs } = startServer(t);
  await client.init();
  client.raw(lengthPrefix(0xfffffff0));
  await served;
  await client.ended;
  assert.ok(logs.some((e) => e.level === 'warn' && /exceeds the limit/.test(String((e.obj as { reason?: string }).reason))));
});

test('a truncated packet followed by the end of the stream ends the session cleanly', async (t) => {
  const { client, served } = startServer(t);
  await client.init();
  client.raw(lengthPrefix(100, Buffer.alloc(50, 1)));
  client.end();
  await served;
});

test('a request before INIT closes the channel', async (t) => {
  const { client, served } = startServer(t);
  client.raw(new SftpWriter(FXP.STAT).u32(1).text('/').finish());
  await served;
  await client.ended;
});

test('an empty packet and a packet too short to hold an id close the channel', async (t) => {
  for (const bytes of [lengthPrefix(0), lengthPrefix(3, Buffer.from([FXP.STAT, 0, 0]))]) {
    const { client, served } = startServer(t);
    await client.init();
    client.raw(bytes);
    await served;
  }
});

test('a string length beyond the packet is answered with BAD_MESSAGE and the channel goes on', async (t) => {
  const { client } = startServer(t);
  await client.init();
  const bad = new SftpWriter(FXP.STAT).u32(77).u32(1000).finish();
  const reply = client.expect(77);
  // The packet ends right after the declared length of 1000: the string runs past its end.
  client.raw(bad);
  const status = asStatus(await reply);
  assert.equal(status.code, FX.BAD_MESSAGE);
  const after = await client.send(FXP.REALPATH, (w) => w.text('.'));
  assert.equal(after.type, FXP.NAME);
});

test('an unknown request type is answered with OP_UNSUPPORTED', async (t) => {
  const { client } = startServer(t);
  await client.init();
  assert.equal(asStatus(await client.send(99, (w) => w.text('junk'))).code, FX.OP_UNSUPPORTED);
  const unknownExt = await client.send(FXP.EXTENDED, (w) => w.text('evil@example.com').text('x'));
  assert.equal(asStatus(unknownExt).code, FX.OP_UNSUPPORTED);
});

test('bogus, short and closed handles are refused as invalid', async (t) => {
  const { client } = startServer(t);
  await client.init();
  for (const handle of [Buffer.alloc(0), Buffer.from('abcd'), Buffer.alloc(256, 0xff)]) {
    const reply = await client.send(FXP.READ, (w) => w.bytes(handle).u64(0).u32(10));
    assert.deepEqual(asStatus(reply), { code: FX.FAILURE, message: 'Invalid handle' });
  }
  const h = asHandle(await client.send(FXP.OPEN, (w) => NO_ATTRS(w.text('/f').u32(FXF.WRITE | FXF.CREAT))));
  assert.equal(asStatus(await client.send(FXP.CLOSE, (w) => w.bytes(h))).code, FX.OK);
  assert.equal(asStatus(await client.send(FXP.WRITE, (w) => w.bytes(h).u64(0).bytes(Buffer.from('x')))).code, FX.FAILURE);
  const over = await client.send(FXP.CLOSE, (w) => w.u32(5000));
  assert.equal(asStatus(over).code, FX.BAD_MESSAGE);
});

test('opening 10k handles stops at the limit with a clear refusal and recovers after a close', async (t) => {
  const session = new MemorySession();
  const { client } = startServer(t, session);
  await client.init();
  const replies = [];
  for (let i = 0; i < 10_000; i++) {
    replies.push(client.send(FXP.OPEN, (w) => NO_ATTRS(w.text(`/f${i % 10}`).u32(FXF.WRITE | FXF.CREAT))));
  }
  const settled = await Promise.all(replies);
  const handles = settled.filter((r) => r.type === FXP.HANDLE).map(asHandle);
  const refusals = settled.filter((r) => r.type === FXP.STATUS).map(asStatus);
  assert.equal(handles.length, 256);
  assert.equal(refusals.length, 10_000 - 256);
  assert.match(refusals[0]?.message ?? '', /Too many open handles \(limit 256\)/);
  assert.equal(session.openFiles, 256);
  await client.send(FXP.CLOSE, (w) => w.bytes(handles[0] as Buffer));
  const again = await client.send(FXP.OPEN, (w) => NO_ATTRS(w.text('/again').u32(FXF.WRITE | FXF.CREAT)));
  assert.equal(again.type, FXP.HANDLE);
});

test('random bytes after INIT never crash the server and the session always ends', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.boolean(), async (bytes, framed) => {
      const { client, served } = startServer(t);
      await client.init();
      client.raw(framed ? lengthPrefix(bytes.length, Buffer.from(bytes)) : Buffer.from(bytes));
      client.end();
      await served;
    }),
    { numRuns: 200 },
  );
});

test('random well-framed requests of every type get an answer and never an internal error', async (t) => {
  const types = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 200, 0, 255];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...types), fc.uint8Array({ maxLength: 64 }), async (type, body) => {
      const { client, served, logs } = startServer(t);
      await client.init();
      const reply = client.expect(1);
      client.raw(lengthPrefix(5 + body.length, Buffer.concat([Buffer.from([type, 0, 0, 0, 1]), Buffer.from(body)])));
      const got = await reply;
      assert.ok(got.type === FXP.STATUS || got.type >= FXP.HANDLE, `type ${got.type}`);
      assert.equal(logs.filter((e) => e.level === 'error').length, 0);
      client.end();
      await served;
    }),
    { numRuns: 300 },
  );
});

/** A session whose writes hang until released, to watch how many requests the server takes. */
class StallingSession extends MemorySession {
  active = 0;
  peak = 0;
  release: (() => void)[] = [];

  override async open(path: string, flags: Parameters<MemorySession['open']>[1]): Promise<OpenFile> {
    const file = await super.open(path, flags);
    return {
      ...file,
      write: async () => {
        this.active++;
        this.peak = Math.max(this.peak, this.active);
        await new Promise<void>((resolve) => this.release.push(resolve));
        this.active--;
      },
    };
  }
}

test('the channel stops being read while the request budget is spent, and resumes as replies drain', async (t) => {
  const session = new StallingSession();
  const { client, serverEnd } = startServer(t, session, { limits: { maxInFlightRequests: 8 } });
  await client.init();
  const file = asHandle(await client.send(FXP.OPEN, (w) => NO_ATTRS(w.text('/s').u32(FXF.WRITE | FXF.CREAT))));
  const writes = Array.from({ length: 200 }, (_, i) => client.send(FXP.WRITE, (w) => w.bytes(file).u64(i * 4096).bytes(Buffer.alloc(4096))));
  await new Promise((r) => setTimeout(r, 50));
  // Writes on one handle run one at a time; the other 7 budget slots wait in the handle's queue.
  assert.equal(session.peak, 1);
  assert.equal(serverEnd.isPaused(), true);
  while (client.pending > 0) {
    await new Promise((r) => setImmediate(r));
    session.release.splice(0).forEach((release) => release());
  }
  for (const reply of await Promise.all(writes)) assert.equal(asStatus(reply).code, FX.OK);
});

class CountingSession extends MemorySession {
  reads = 0;

  override async open(path: string, flags: Parameters<MemorySession['open']>[1]): Promise<OpenFile> {
    const file = await super.open(path, flags);
    return { ...file, read: (offset, length) => (this.reads++, file.read(offset, length)) };
  }
}

test('a client that does not read replies stops the server from taking more requests', async (t) => {
  const session = new CountingSession();
  const { client, clientEnd } = startServer(t, session);
  await client.init();
  const h = asHandle(await client.send(FXP.OPEN, (w) => NO_ATTRS(w.text('/r').u32(FXF.WRITE | FXF.READ | FXF.CREAT))));
  await client.send(FXP.WRITE, (w) => w.bytes(h).u64(0).bytes(Buffer.alloc(200_000, 3)));
  clientEnd.pause();
  const replies = Array.from({ length: 600 }, () => client.send(FXP.READ, (w) => w.bytes(h).u64(0).u32(200_000)));
  await new Promise((r) => setTimeout(r, 200));
  // 600 x 200 KB were asked for; what the server took is bounded by its in-flight budget.
  assert.ok(session.reads <= 130, `reads ${session.reads}`);
  clientEnd.resume();
  assert.equal((await Promise.all(replies)).filter((r) => r.type === FXP.DATA).length, 600);
});

test('a stream that ignores pause cannot make the server buffer without bound', async (t) => {
  const session = new StallingSession();
  const { client, serverEnd, served, logs } = startServer(t, session, { limits: { maxInFlightRequests: 2, maxInFlightBytes: 1 << 20 } });
  serverEnd.pause = () => serverEnd; // a broken transport: pause() does nothing
  await client.init();
  const file = asHandle(await client.send(FXP.OPEN, (w) => NO_ATTRS(w.text('/s').u32(FXF.WRITE | FXF.CREAT))));
  for (let i = 0; i < 100; i++) client.raw(new SftpWriter(FXP.WRITE).u32(100 + i).bytes(file).u64(i * 65536).bytes(Buffer.alloc(65536)).finish());
  await new Promise((r) => setTimeout(r, 100));
  session.release.splice(0).forEach((release) => release());
  await new Promise((r) => setTimeout(r, 10));
  session.release.splice(0).forEach((release) => release());
  await served;
  assert.ok(logs.some((e) => (e.obj as { reason?: string }).reason === 'the channel keeps sending while paused'));
});
