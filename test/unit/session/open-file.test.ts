// OpenFile against a dumb model (STYLE.md 8): random reads and writes at random offsets,
// overlapping and sequential, issued without waiting (as SFTP clients keep requests in flight),
// must leave exactly what a plain byte array would hold.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { READ_WINDOW, WRITE_CHUNK } from '../../../src/session/streams.ts';
import { DriverOpenFile, REORDER_WINDOW } from '../../../src/session/open-file.ts';
import { LocalDriver } from '../../../src/vfs/drivers/local.ts';
import type { OpenReadOptions, OpenWriteOptions, PositionalReader } from '../../../src/vfs/vfs.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';
import { testTransfer } from '../../helpers/transfer.ts';

type Op = { kind: 'write'; offset: number; length: number; seed: number } | { kind: 'read'; offset: number; length: number } | { kind: 'stat' };

function bytes(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (seed + i * 7) & 0xff;
  return b;
}

class Model {
  data = Buffer.alloc(0);
  write(offset: number, chunk: Buffer) {
    const end = offset + chunk.length;
    if (end > this.data.length) this.data = Buffer.concat([this.data, Buffer.alloc(end - this.data.length)]);
    chunk.copy(this.data, offset);
  }
  read(offset: number, length: number): Buffer {
    return this.data.subarray(Math.min(offset, this.data.length), Math.min(offset + length, this.data.length));
  }
}

const SPAN = 3 * WRITE_CHUNK;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), offset: fc.integer({ min: 0, max: SPAN }), length: fc.integer({ min: 1, max: 300_000 }), seed: fc.nat(255) }),
  fc.record({ kind: fc.constant('read' as const), offset: fc.integer({ min: 0, max: SPAN }), length: fc.integer({ min: 0, max: 200_000 }) }),
  fc.constant({ kind: 'stat' as const }),
);
/** Runs of sequential writes (the coalescing path), sent in order or shuffled within a window. */
const sequentialArb = fc.record({
  start: fc.integer({ min: 0, max: SPAN }),
  sizes: fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 40 }),
  jitter: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 40, maxLength: 40 }),
  shuffled: fc.boolean(),
  seed: fc.nat(255),
});

/** Indices of a run, in the order a client with concurrent writes might send them. */
function sendOrder(count: number, jitter: readonly number[], shuffled: boolean): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return shuffled ? order.sort((a, b) => a + (jitter[a] ?? 0) - (b + (jitter[b] ?? 0)) || a - b) : order;
}

class CountingDriver extends LocalDriver {
  opens = 0;
  readOpens = 0;
  positionalOpens = 0;

  /** Without `positional` the driver offers streams only, as object storages do. */
  constructor(root: string, positional: boolean) {
    super(root);
    if (!positional) Object.defineProperty(this, 'openPositional', { value: undefined });
  }

  override async openPositional(path: string): Promise<PositionalReader> {
    this.positionalOpens++;
    return super.openPositional(path);
  }
  override async openWrite(path: string, options?: OpenWriteOptions): Promise<Writable> {
    this.opens++;
    return super.openWrite(path, options);
  }
  override async openRead(path: string, options?: OpenReadOptions): Promise<Readable> {
    this.readOpens++;
    return super.openRead(path, options);
  }
}

/** Each window of 64 requests in reverse, like a client with 64 requests in flight. */
const reversedWindows = (count: number) => Array.from({ length: count }, (_, i) => Math.floor(i / 64) * 64 + (63 - (i % 64)));

async function countingFile(t: { after(fn: () => Promise<void>): void }, readable: boolean, positional = false) {
  const root = await mkdtemp(path.join(tmpdir(), 'ferry-reorder-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const driver = new CountingDriver(root, positional);
  const file = new DriverOpenFile({
    path: '/f',
    driver,
    driverPath: '/f',
    transfer: testTransfer({ readable, writable: !readable }),
    append: false,
    initialWriter: readable ? undefined : await driver.openWrite('/f', { truncate: true }),
    stat: () => Promise.reject(new Error('unused')),
    setStat: () => Promise.reject(new Error('unused')),
  });
  return { root, driver, file };
}

describe('OpenFile', () => {
  it('matches a byte-array model under random reads, writes and stats issued without waiting', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(opArb, sequentialArb), { minLength: 1, maxLength: 25 }), async (steps) => {
        const name = `/model-${run++}`;
        const file = await fx.session.open(name, { read: true, write: true, create: true, truncate: true });
        const model = new Model();
        const pending: Promise<void>[] = [];
        for (const step of steps) {
          if ('sizes' in step) {
            const offsets = step.sizes.map((_, i) => step.start + step.sizes.slice(0, i).reduce((a, b) => a + b, 0));
            for (const i of sendOrder(step.sizes.length, step.jitter, step.shuffled)) {
              const offset = offsets[i] as number;
              const chunk = bytes(step.sizes[i] as number, step.seed + offset);
              model.write(offset, chunk);
              // The caller may reuse its buffer once write() resolved: the file must have copied it.
              pending.push(file.write(offset, chunk).then(() => void chunk.fill(0)));
            }
          } else if (step.kind === 'write') {
            const chunk = bytes(step.length, step.seed);
            model.write(step.offset, Buffer.from(chunk));
            pending.push(file.write(step.offset, chunk));
          } else if (step.kind === 'read') {
            const expected = Buffer.from(model.read(step.offset, step.length));
            pending.push(file.read(step.offset, step.length).then((got) => assert.ok(got.equals(expected), `read ${step.offset}+${step.length}`)));
          } else {
            const size = model.data.length;
            pending.push(file.stat().then((st) => assert.equal(st.size, size)));
          }
        }
        await Promise.all(pending);
        await file.close();
        assert.ok(readFileSync(path.join(fx.homeDir, name.slice(1))).equals(model.data), 'file on disk equals the model');
      }),
      { numRuns: 40 },
    );
  });

  it('keeps one storage stream for writes that arrive shuffled within the reorder window', async (t) => {
    const { root, driver, file } = await countingFile(t, false);
    const chunk = 32 * 1024;
    const count = 512;
    await Promise.all(reversedWindows(count).map((i) => file.write(i * chunk, bytes(chunk, i))));
    await file.close();
    assert.equal(driver.opens, 1, 'no stream was reopened');
    const stored = readFileSync(path.join(root, 'f'));
    assert.equal(stored.length, count * chunk);
    for (const i of [0, 63, 64, 200, 511]) assert.ok(stored.subarray(i * chunk, (i + 1) * chunk).equals(bytes(chunk, i)), `chunk ${i}`);
    assert.ok(REORDER_WINDOW >= 64 * chunk);
  });

  it('keeps one storage stream for reads that arrive shuffled within the read window', async (t) => {
    const { root, driver, file } = await countingFile(t, true);
    const chunk = 32 * 1024;
    const count = 512;
    const content = Buffer.concat(Array.from({ length: count }, (_, i) => bytes(chunk, i)));
    writeFileSync(path.join(root, 'f'), content);
    const got = await Promise.all(reversedWindows(count).map((i) => file.read(i * chunk, chunk).then((data) => [i, data] as const)));
    for (const [i, data] of got) assert.ok(data.equals(content.subarray(i * chunk, (i + 1) * chunk)), `chunk ${i}`);
    assert.equal((await file.read(count * chunk, chunk)).length, 0, 'end of file');
    await file.close();
    // The first window starts at its highest offset: one reopen, earlier, learns the order.
    assert.equal(driver.readOpens, 2, 'reopened once, for the out-of-order start');
    assert.ok(READ_WINDOW >= 64 * chunk);
  });

  it('serves shuffled reads and reads past the end from one positional open when the storage has one', async (t) => {
    const { root, driver, file } = await countingFile(t, true, true);
    const chunk = 32 * 1024;
    const count = 512;
    const content = Buffer.concat(Array.from({ length: count }, (_, i) => bytes(chunk, i)));
    writeFileSync(path.join(root, 'f'), content.subarray(0, content.length - 5));
    const got = await Promise.all(reversedWindows(count + 10).map((i) => file.read(i * chunk, chunk).then((data) => [i, data] as const)));
    for (const [i, data] of got) assert.ok(data.equals(content.subarray(i * chunk, Math.min((i + 1) * chunk, content.length - 5))), `chunk ${i}`);
    const into = Buffer.alloc(chunk + 7);
    assert.equal(await file.readInto?.(count * chunk - chunk, into), chunk - 5, 'short only at the end');
    assert.ok(into.subarray(0, chunk - 5).equals(content.subarray((count - 1) * chunk, count * chunk - 5)));
    await file.close();
    assert.deepEqual([driver.positionalOpens, driver.readOpens], [1, 0]);
  });

  it('answers the reads in flight past the end of the file without reopening', async (t) => {
    const { root, driver, file } = await countingFile(t, true);
    const chunk = 32 * 1024;
    writeFileSync(path.join(root, 'f'), Buffer.alloc(10 * chunk + 5, 1));
    const sizes = await Promise.all(Array.from({ length: 74 }, (_, i) => file.read(i * chunk, chunk).then((b) => b.length)));
    assert.equal(sizes.reduce((a, b) => a + b, 0), 10 * chunk + 5);
    assert.equal(driver.readOpens, 1);
    await file.close();
  });

  it('appends every write at the end whatever offset the client sends', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const first = await fx.session.open('/log', { write: true, create: true });
    await first.write(0, Buffer.from('one '));
    await first.close();
    const file = await fx.session.open('/log', { write: true, append: true });
    await Promise.all([file.write(0, Buffer.from('two ')), file.write(0, Buffer.from('three'))]);
    await file.close();
    assert.equal(readFileSync(path.join(fx.homeDir, 'log'), 'utf8'), 'one two three');
  });

  it('creates, truncates and refuses per open flags', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const s = fx.session;
    await (await s.open('/empty', { write: true, create: true })).close();
    assert.equal(readFileSync(path.join(fx.homeDir, 'empty'), 'utf8'), '', 'created at open, before any write');
    const f = await s.open('/empty', { write: true });
    await f.write(0, Buffer.from('0123456789'));
    await f.close();
    await (await s.open('/empty', { write: true, truncate: true })).close();
    assert.equal(readFileSync(path.join(fx.homeDir, 'empty'), 'utf8'), '');
    await assert.rejects(s.open('/empty', { write: true, create: true, exclusive: true }), { kind: 'exists' });
    await assert.rejects(s.open('/missing', { read: true }), { kind: 'not-found' });
    await assert.rejects(s.open('/missing', { write: true }), { kind: 'not-found' });
    await s.mkdir('/dir');
    await assert.rejects(s.open('/dir', { read: true }), { kind: 'is-a-directory' });
    const ro = await s.open('/empty', { read: true });
    await assert.rejects(ro.write(0, Buffer.from('x')), { kind: 'invalid-request' });
    assert.equal((await ro.read(0, 10)).length, 0, 'empty buffer at end of file');
    await ro.close();
    await assert.rejects(ro.read(0, 1), { kind: 'internal' }, 'closed handles refuse work');
  });

  it('sees a file grow after reading to its end', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const writer = await fx.session.open('/grow', { write: true, create: true });
    const reader = await fx.session.open('/grow', { read: true });
    await writer.write(0, Buffer.from('abc'));
    await writer.sync();
    assert.equal(String(await reader.read(0, 10)), 'abc');
    await writer.write(3, Buffer.from('def'));
    await writer.sync();
    assert.equal(String(await reader.read(3, 10)), 'def');
    await Promise.all([writer.close(), reader.close()]);
  });

  it('flushes coalesced writes before stat and setStat see the file', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const file = await fx.session.open('/f', { write: true, create: true });
    await file.write(0, Buffer.alloc(10));
    await file.setStat({ size: 5 });
    assert.equal((await file.stat()).size, 5);
    await file.close();
    await assert.rejects(file.write(0, Buffer.alloc(1)), { kind: 'internal' });
  });
});
