import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTR, DEFAULT_LIMITS, FX, FXF, FXP } from '../../../../../src/protocols/ssh/sftp/constants.ts';
import type { SftpWriter } from '../../../../../src/protocols/ssh/sftp/writer.ts';
import { startServer } from './harness.ts';
import { MemorySession } from './memory-session.ts';
import type { WireClient } from './wire-client.ts';
import { NO_ATTRS, asAttrs, asData, asHandle, asNames, asStatus } from './wire-client.ts';

async function openFile(c: WireClient, path: string, pflags: number): Promise<Buffer> {
  return asHandle(await c.send(FXP.OPEN, (w) => NO_ATTRS(w.text(path).u32(pflags))));
}

function ext(name: string, build: (w: SftpWriter) => void = () => {}) {
  return (w: SftpWriter) => build(w.text(name));
}

test('INIT is answered with version 3 and the OpenSSH extensions Ferry serves', async (t) => {
  const { client } = startServer(t);
  const extensions = await client.init();
  assert.deepEqual(Object.fromEntries(extensions), {
    'posix-rename@openssh.com': '1',
    'statvfs@openssh.com': '2',
    'fstatvfs@openssh.com': '2',
    'hardlink@openssh.com': '1',
    'fsync@openssh.com': '1',
    'lsetstat@openssh.com': '1',
    'limits@openssh.com': '1',
    'expand-path@openssh.com': '1',
    'copy-data': '1',
    'home-directory': '1',
  });
});

test('a file written in pipelined chunks reads back the same and closes through the session', async (t) => {
  const { client, session } = startServer(t);
  await client.init();
  const handle = await openFile(client, '/up.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
  const body = Buffer.alloc(100_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  const writes = [];
  for (let off = 0; off < body.length; off += 8192) {
    const chunk = body.subarray(off, off + 8192);
    writes.push(client.send(FXP.WRITE, (w) => w.bytes(handle).u64(off).bytes(chunk)));
  }
  for (const reply of await Promise.all(writes)) assert.equal(asStatus(reply).code, FX.OK);
  assert.equal(asStatus(await client.send(FXP.CLOSE, (w) => w.bytes(handle))).code, FX.OK);
  const rh = await openFile(client, '/up.bin', FXF.READ);
  const data = asData(await client.send(FXP.READ, (w) => w.bytes(rh).u64(0).u32(200_000)));
  assert.deepEqual(data, body);
  assert.equal(asStatus(await client.send(FXP.READ, (w) => w.bytes(rh).u64(body.length).u32(10))).code, FX.EOF);
  assert.equal(asStatus(await client.send(FXP.CLOSE, (w) => w.bytes(rh))).code, FX.OK);
  assert.equal(session.closedFiles, 2);
});

test('writes on one handle reach the session in request order even when they complete out of order', async (t) => {
  // Earlier offsets take longer: without per-handle ordering the session would see them late.
  const session = new MemorySession({ writeDelay: (offset) => (offset < 40_000 ? 15 : 0) });
  const { client } = startServer(t, session);
  await client.init();
  const handle = await openFile(client, '/ordered', FXF.WRITE | FXF.CREAT);
  const offsets = Array.from({ length: 10 }, (_, i) => i * 10_000);
  const replies = offsets.map((off) => client.send(FXP.WRITE, (w) => w.bytes(handle).u64(off).bytes(Buffer.alloc(10_000, off / 10_000))));
  await Promise.all(replies);
  assert.deepEqual(session.writes.get('/ordered'), offsets);
});

test('a READ larger than the limit is served short, as OpenSSH does', async (t) => {
  const session = new MemorySession();
  const { client } = startServer(t, session);
  await client.init();
  const h = await openFile(client, '/big', FXF.WRITE | FXF.CREAT);
  for (let off = 0; off < 600_000; off += 200_000) {
    await client.send(FXP.WRITE, (w) => w.bytes(h).u64(off).bytes(Buffer.alloc(200_000, 1)));
  }
  const data = asData(await client.send(FXP.READ, (w) => w.bytes(h).u64(0).u32(0xffffffff)));
  assert.equal(data.length, DEFAULT_LIMITS.maxReadLength);
});

test('a directory lists in batches of 100 with ls -l long names, then EOF', async (t) => {
  const session = new MemorySession();
  const { client } = startServer(t, session, { now: () => 1e12 + 1000 });
  await client.init();
  await client.send(FXP.MKDIR, (w) => NO_ATTRS(w.text('/d')));
  for (let i = 0; i < 250; i++) await client.send(FXP.MKDIR, (w) => NO_ATTRS(w.text(`/d/sub${i}`)));
  const dh = asHandle(await client.send(FXP.OPENDIR, (w) => w.text('/d')));
  const sizes = [];
  let first;
  for (;;) {
    const reply = await client.send(FXP.READDIR, (w) => w.bytes(dh));
    if (reply.type === FXP.STATUS) {
      assert.equal(asStatus(reply).code, FX.EOF);
      break;
    }
    const names = asNames(reply);
    first ??= names[0];
    sizes.push(names.length);
  }
  assert.deepEqual(sizes, [100, 100, 50]);
  assert.equal(first?.filename, 'sub0');
  assert.match(first?.longname ?? '', /^drwxr-xr-x +1 alice +alice +0 Sep +\d+ \d\d:\d\d sub0$/);
  assert.equal(first?.attrs.permissions, 0o40755);
});

test('a denied operation reaches the client as PERMISSION_DENIED with the session message', async (t) => {
  const { client } = startServer(t, new MemorySession({ deny: ['open', 'list', 'mkdir'] }));
  await client.init();
  const open = asStatus(await client.send(FXP.OPEN, (w) => NO_ATTRS(w.text('/x').u32(FXF.READ))));
  assert.deepEqual(open, { code: FX.PERMISSION_DENIED, message: 'Permission denied: open' });
  assert.equal(asStatus(await client.send(FXP.OPENDIR, (w) => w.text('/'))).code, FX.PERMISSION_DENIED);
  assert.equal(asStatus(await client.send(FXP.MKDIR, (w) => NO_ATTRS(w.text('/n')))).code, FX.PERMISSION_DENIED);
});

test('a missing file is NO_SUCH_FILE', async (t) => {
  const { client } = startServer(t);
  await client.init();
  assert.equal(asStatus(await client.send(FXP.STAT, (w) => w.text('/nope'))).code, FX.NO_SUCH_FILE);
  assert.equal(asStatus(await client.send(FXP.OPEN, (w) => NO_ATTRS(w.text('/nope').u32(FXF.READ)))).code, FX.NO_SUCH_FILE);
});

test('v3 RENAME refuses an existing target while posix-rename replaces it', async (t) => {
  const { client, session } = startServer(t);
  await client.init();
  await session.mkdir('/a');
  await session.mkdir('/b');
  const legacy = asStatus(await client.send(FXP.RENAME, (w) => w.text('/a').text('/b')));
  assert.equal(legacy.code, FX.FAILURE);
  const posix = asStatus(await client.send(FXP.EXTENDED, ext('posix-rename@openssh.com', (w) => w.text('/a').text('/b'))));
  assert.equal(posix.code, FX.OK);
  assert.equal(session.nodes.has('/a'), false);
});

test('SYMLINK takes the target first and the link path second, as OpenSSH sends it', async (t) => {
  const { client, session } = startServer(t);
  await client.init();
  await session.mkdir('/real');
  assert.equal(asStatus(await client.send(FXP.SYMLINK, (w) => w.text('/real').text('/link'))).code, FX.OK);
  const [name] = asNames(await client.send(FXP.READLINK, (w) => w.text('/link')));
  assert.equal(name?.filename, '/real');
  assert.equal(asAttrs(await client.send(FXP.LSTAT, (w) => w.text('/link'))).permissions, 0o120777);
  assert.equal(asAttrs(await client.send(FXP.STAT, (w) => w.text('/link'))).permissions, 0o40755);
});

test('statvfs and limits answer with extended replies in OpenSSH layout', async (t) => {
  const { client } = startServer(t);
  await client.init();
  const sv = await client.send(FXP.EXTENDED, ext('statvfs@openssh.com', (w) => w.text('/')));
  assert.equal(sv.type, FXP.EXTENDED_REPLY);
  const fields = Array.from({ length: 11 }, () => sv.r.u64());
  assert.deepEqual(fields, [4096, 4096, 1000, 600, 500, 100, 50, 50, 0, 0, 255]);
  const lim = await client.send(FXP.EXTENDED, ext('limits@openssh.com'));
  assert.deepEqual([lim.r.u64(), lim.r.u64(), lim.r.u64(), lim.r.u64()], [262144, 261120, 261120, 256]);
});

test('setstat applies mode and times, and refuses an owner change as unsupported', async (t) => {
  const { client, session } = startServer(t);
  await client.init();
  await session.mkdir('/d');
  const set = (build: (w: SftpWriter) => void) => client.send(FXP.SETSTAT, (w) => build(w.text('/d')));
  assert.equal(asStatus(await set((w) => w.u32(ATTR.PERMISSIONS | ATTR.ACMODTIME).u32(0o40700).u32(1000).u32(2000))).code, FX.OK);
  assert.equal(session.nodes.get('/d')?.mode, 0o700);
  assert.equal(session.nodes.get('/d')?.mtimeMs, 2_000_000);
  assert.equal(asStatus(await set((w) => w.u32(ATTR.UIDGID).u32(0).u32(0))).code, FX.OP_UNSUPPORTED);
});

test('expand-path and home-directory resolve the home to the virtual root', async (t) => {
  const { client } = startServer(t);
  await client.init();
  const expand = async (p: string) => asNames(await client.send(FXP.EXTENDED, ext('expand-path@openssh.com', (w) => w.text(p))))[0]?.filename;
  assert.equal(await expand('~'), '/');
  assert.equal(await expand('~/docs/../x'), '/x');
  assert.equal(await expand('~alice/y'), '/y');
  const bob = await client.send(FXP.EXTENDED, ext('expand-path@openssh.com', (w) => w.text('~bob')));
  assert.equal(asStatus(bob).code, FX.NO_SUCH_FILE);
  const home = asNames(await client.send(FXP.EXTENDED, ext('home-directory', (w) => w.text(''))));
  assert.equal(home[0]?.filename, '/');
  assert.equal(asNames(await client.send(FXP.REALPATH, (w) => w.text('')))[0]?.filename, '/');
});

test('copy-data copies between two handles on the server', async (t) => {
  const { client, session } = startServer(t);
  await client.init();
  const src = await openFile(client, '/src', FXF.WRITE | FXF.READ | FXF.CREAT);
  for (let off = 0; off < 700_000; off += 175_000) {
    await client.send(FXP.WRITE, (w) => w.bytes(src).u64(off).bytes(Buffer.alloc(175_000, 9)));
  }
  const dst = await openFile(client, '/dst', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
  const reply = await client.send(FXP.EXTENDED, ext('copy-data', (w) => w.bytes(src).u64(0).u64(0).bytes(dst).u64(0)));
  assert.equal(asStatus(reply).code, FX.OK);
  assert.equal(session.nodes.get('/dst')?.data.length, 700_000);
  const same = await client.send(FXP.EXTENDED, ext('copy-data', (w) => w.bytes(src).u64(0).u64(0).bytes(src).u64(0)));
  assert.equal(asStatus(same).code, FX.FAILURE);
});

test('handles left open are closed through the session when the client ends the channel', async (t) => {
  const { client, session, served } = startServer(t);
  await client.init();
  await openFile(client, '/one', FXF.WRITE | FXF.CREAT);
  await openFile(client, '/two', FXF.WRITE | FXF.CREAT);
  client.end();
  await served;
  await client.ended;
  assert.equal(session.closedFiles, 2);
});

class BrokenSession extends MemorySession {
  override async stat(): Promise<never> {
    throw new Error('EIO: /srv/ferry/data/alice/x: disk on fire');
  }
}

test('an unexpected error is logged and reaches the client as FAILURE without internals', async (t) => {
  const { client, logs } = startServer(t, new BrokenSession());
  await client.init();
  const reply = asStatus(await client.send(FXP.STAT, (w) => w.text('/x')));
  assert.equal(reply.code, FX.FAILURE);
  assert.doesNotMatch(reply.message, /srv|EIO|fire/);
  assert.match(reply.message, /server log/);
  const logged = logs.find((e) => e.level === 'error');
  assert.equal((logged?.obj as { request?: string }).request, 'stat');
  assert.match(String((logged?.obj as { err?: Error }).err?.message), /disk on fire/);
});

test('READDIR replies stay under the packet limit however long the names are', async (t) => {
  const session = new MemorySession();
  const { client } = startServer(t, session);
  await client.init();
  await session.mkdir('/long');
  for (let i = 0; i < 150; i++) await session.mkdir(`/long/${String(i).padStart(3, '0')}${'é'.repeat(1500)}`);
  const dh = asHandle(await client.send(FXP.OPENDIR, (w) => w.text('/long')));
  let seen = 0;
  for (;;) {
    const reply = await client.send(FXP.READDIR, (w) => w.bytes(dh));
    if (reply.type === FXP.STATUS) break;
    const size = reply.r.remaining + 5;
    assert.ok(size < DEFAULT_LIMITS.maxPacketLength, `reply of ${size} bytes`);
    seen += asNames(reply).length;
  }
  assert.equal(seen, 150);
});

test('a slow request on one handle does not hold up requests on another', async (t) => {
  const session = new MemorySession({ writeDelay: (offset) => (offset === 0 ? 300 : 0) });
  const { client } = startServer(t, session);
  await client.init();
  const slow = await openFile(client, '/slow', FXF.WRITE | FXF.CREAT);
  const fast = await openFile(client, '/fast', FXF.WRITE | FXF.CREAT);
  const order: string[] = [];
  const a = client.send(FXP.WRITE, (w) => w.bytes(slow).u64(0).bytes(Buffer.from('s'))).then(() => order.push('slow'));
  const b = client.send(FXP.WRITE, (w) => w.bytes(fast).u64(1).bytes(Buffer.from('f'))).then(() => order.push('fast'));
  const c = client.send(FXP.STAT, (w) => w.text('/')).then(() => order.push('stat'));
  await Promise.all([a, b, c]);
  assert.equal(order.at(-1), 'slow');
});
