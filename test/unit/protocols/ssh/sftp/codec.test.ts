import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PacketFramer, PacketTooLong } from '../../../../../src/protocols/ssh/sftp/framer.ts';
import { MalformedPacket, SftpReader } from '../../../../../src/protocols/ssh/sftp/reader.ts';
import { SftpWriter } from '../../../../../src/protocols/ssh/sftp/writer.ts';
import { ATTR, FXP } from '../../../../../src/protocols/ssh/sftp/constants.ts';
import { changesFromAttrs, wireMode } from '../../../../../src/protocols/ssh/sftp/attrs.ts';

function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

function drain(framer: PacketFramer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = framer.next(); p !== undefined; p = framer.next()) out.push(p);
  return out;
}

test('the framer yields the same packets however the stream is split', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 40 }),
      (payloads, cuts) => {
        const bytes = Buffer.concat(payloads.map((p) => frame(Buffer.from(p))));
        const framer = new PacketFramer(1024);
        const got: Buffer[] = [];
        let pos = 0;
        let i = 0;
        while (pos < bytes.length) {
          const size = cuts[i++ % cuts.length] as number;
          framer.push(bytes.subarray(pos, pos + size));
          pos += size;
          got.push(...drain(framer));
        }
        assert.deepEqual(got.map((b) => [...b]), payloads.map((p) => [...p]));
        assert.equal(framer.bufferedBytes, 0);
      },
    ),
  );
});

test('the framer rejects an over-long length as soon as the length field is complete', () => {
  const framer = new PacketFramer(256 * 1024);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(256 * 1024 + 1, 0);
  framer.push(head.subarray(0, 3));
  assert.equal(framer.next(), undefined);
  framer.push(head.subarray(3));
  assert.throws(() => framer.next(), PacketTooLong);
});

test('the framer accepts a packet of exactly the maximum length', () => {
  const framer = new PacketFramer(1000);
  framer.push(frame(Buffer.alloc(1000, 7)));
  const [packet] = drain(framer);
  assert.equal(packet?.length, 1000);
});

test('the framer waits for a truncated packet without yielding a partial one', () => {
  const framer = new PacketFramer(1000);
  framer.push(frame(Buffer.alloc(100, 1)).subarray(0, 50));
  assert.equal(framer.next(), undefined);
  assert.equal(framer.bufferedBytes, 46);
});

test('the reader decodes what the writer encodes', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeNat(), fc.string(), fc.uint8Array(), (u32, u64, text, bytes) => {
      const packet = new SftpWriter(FXP.STATUS).u32(u32).u64(u64).text(text).bytes(bytes).finish();
      assert.equal(packet.readUInt32BE(0), packet.length - 4);
      const r = new SftpReader(packet, 5);
      assert.equal(r.u32(), u32);
      assert.equal(r.u64(), u64);
      assert.equal(r.text(1 << 20), text);
      assert.deepEqual([...r.bytes(1 << 20)], [...bytes]);
      assert.equal(r.remaining, 0);
    }),
  );
});

test('the reader refuses a string whose length runs past the packet', () => {
  const buf = Buffer.alloc(8);
  buf.writeUInt32BE(100, 0);
  assert.throws(() => new SftpReader(buf).bytes(1000), MalformedPacket);
});

test('the reader refuses a string longer than its field allows before looking at the bytes', () => {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(0xffffffff, 0);
  assert.throws(() => new SftpReader(buf).path(), /longer than 4096/);
});

test('the reader refuses invalid UTF-8 in a path instead of replacing it', () => {
  const buf = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from([0xc3, 0x28])]);
  assert.throws(() => new SftpReader(buf).path(), /not valid UTF-8/);
});

test('the reader keeps a leading BOM of a name, as SCP and the disk listing do: it names another file', () => {
  const name = Buffer.from('\uFEFFa.txt', 'utf8');
  const buf = Buffer.concat([Buffer.from([0, 0, 0, name.length]), name]);
  assert.equal(new SftpReader(buf).path(), '\uFEFFa.txt');
});

test('the reader refuses a 64-bit offset beyond what a JavaScript number holds exactly', () => {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(2n ** 60n, 0);
  assert.throws(() => new SftpReader(buf).u64('offset'), /offset too large/);
});

test('truncated fixed-size fields end in a malformed packet error', () => {
  assert.throws(() => new SftpReader(Buffer.alloc(3)).u32(), MalformedPacket);
  assert.throws(() => new SftpReader(Buffer.alloc(7)).u64(), MalformedPacket);
  assert.throws(() => new SftpReader(Buffer.alloc(0)).u8(), MalformedPacket);
});

test('attributes decode every v3 field and skip extended pairs', () => {
  const w = new SftpWriter(0);
  w.u32(ATTR.SIZE | ATTR.UIDGID | ATTR.PERMISSIONS | ATTR.ACMODTIME | ATTR.EXTENDED);
  w.u64(12345).u32(1000).u32(1001).u32(0o100644).u32(1700000000).u32(1700000001);
  w.u32(2).text('a').text('b').text('c').text('d');
  w.u32(99);
  const r = new SftpReader(w.finish(), 5);
  assert.deepEqual(r.attrs(), { size: 12345, uid: 1000, gid: 1001, permissions: 0o100644, atime: 1700000000, mtime: 1700000001 });
  assert.equal(r.u32(), 99);
});

test('an extended attribute count larger than the packet ends in a malformed packet error', () => {
  const w = new SftpWriter(0).u32(ATTR.EXTENDED).u32(0xffffffff);
  assert.throws(() => new SftpReader(w.finish(), 5).attrs(), MalformedPacket);
});

test('a setstat with only an owner change is recognised so it can be refused', () => {
  assert.deepEqual(changesFromAttrs({ uid: 1, gid: 2 }), { changes: {}, ownerOnly: true });
  assert.deepEqual(changesFromAttrs({ uid: 1, gid: 2, permissions: 0o100600 }), { changes: { mode: 0o600 }, ownerOnly: false });
  assert.deepEqual(changesFromAttrs({ atime: 10, mtime: 20, size: 5 }), {
    changes: { atimeMs: 10000, mtimeMs: 20000, size: 5 },
    ownerOnly: false,
  });
});

test('the wire mode carries the file type bits clients test with S_ISDIR', () => {
  const base = { name: 'x', size: 0, mtimeMs: 0, atimeMs: 0 };
  assert.equal(wireMode({ ...base, type: 'dir', mode: 0o755 }), 0o40755);
  assert.equal(wireMode({ ...base, type: 'file', mode: 0o644 }), 0o100644);
  assert.equal(wireMode({ ...base, type: 'symlink', mode: 0o777 }), 0o120777);
});
