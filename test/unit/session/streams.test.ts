import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { testTransfer } from '../../helpers/transfer.ts';
import { CoalescingWriter, MAX_QUEUED, MeteredWritable, SequentialReader, WRITE_CHUNK, meterReadable } from '../../../src/session/streams.ts';

/** A storage stream that records the sizes it is handed and fails once it holds `failAfter` bytes. */
function sink(failAfter = Infinity, delayMs = 0) {
  const sizes: number[] = [];
  let total = 0;
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, callback) {
      total += chunk.length;
      sizes.push(chunk.length);
      const error = total > failAfter ? Object.assign(new Error('no space left'), { code: 'ENOSPC' }) : null;
      setTimeout(() => callback(error), delayMs);
    },
  });
  return { stream, sizes };
}

describe('CoalescingWriter', () => {
  it('hands the storage 1 MiB chunks for a run of 32 KiB writes', async () => {
    const { stream, sizes } = sink();
    const writer = new CoalescingWriter(stream, 0, '/f');
    for (let i = 0; i < 100; i++) await writer.write(Buffer.alloc(32 * 1024, i));
    await writer.end();
    assert.deepEqual(sizes, [WRITE_CHUNK, WRITE_CHUNK, WRITE_CHUNK, 100 * 32 * 1024 - 3 * WRITE_CHUNK]);
    assert.equal(writer.next, 100 * 32 * 1024);
  });

  it('waits for the storage once it holds more than the queue bound', async () => {
    const { stream } = sink(Infinity, 5);
    const writer = new CoalescingWriter(stream, 0, '/f');
    let maxQueued = 0;
    for (let i = 0; i < 12; i++) {
      await writer.write(Buffer.alloc(WRITE_CHUNK));
      maxQueued = Math.max(maxQueued, stream.writableLength);
    }
    await writer.end();
    assert.ok(maxQueued <= MAX_QUEUED, `queued ${maxQueued}`);
  });

  it('reports a storage error on the next write and on end', async () => {
    const { stream } = sink(WRITE_CHUNK);
    const writer = new CoalescingWriter(stream, 0, '/f');
    let failed: unknown;
    try {
      for (let i = 0; i < 64; i++) await writer.write(Buffer.alloc(WRITE_CHUNK / 2));
    } catch (error) {
      failed = error;
    }
    assert.equal((failed as { kind?: string }).kind, 'no-space');
    await assert.rejects(writer.write(Buffer.alloc(1)), { kind: 'no-space' });
    await assert.rejects(writer.end(), { kind: 'no-space' });
  });
});

describe('SequentialReader', () => {
  it('serves exact lengths across chunk boundaries and reports end of file', async () => {
    const reader = new SequentialReader(Readable.from([Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('ij')]), 10, '/f');
    assert.equal(String((await reader.read(4)).data), 'abcd');
    assert.equal(String((await reader.read(5)).data), 'efghi');
    assert.equal(reader.position, 19);
    const last = await reader.read(5);
    assert.equal(String(last.data), 'j');
    assert.equal(last.eof, true);
  });

  it('reports a storage error', async () => {
    const failing = new Readable({ read() { this.destroy(Object.assign(new Error('io'), { code: 'EPROTO' })); } });
    await assert.rejects(new SequentialReader(failing, 0, '/f').read(10), { kind: 'io' });
  });
});

describe('transfer meters', () => {
  it('count a download and report it once, when the consumer is done', async () => {
    const ends: Array<[number, string]> = [];
    const transfer = testTransfer({ onEnd: ([line]) => ends.push([line!.bytes, line!.status]) });
    const meter = meterReadable(Readable.from([Buffer.from('hello '), Buffer.from('world')]), transfer);
    assert.equal(await text(meter), 'hello world');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ends, [[11, 'ok']]);
  });

  it('report an upload destroyed before its end as incomplete, and finish only when the storage finished', async () => {
    const ends: Array<[number, string]> = [];
    const { stream } = sink(Infinity, 2);
    const upload = new MeteredWritable(stream, testTransfer({ writable: true, onEnd: ([line]) => ends.push([line!.bytes, line!.status]) }));
    upload.write(Buffer.alloc(10));
    upload.end(Buffer.alloc(5));
    await new Promise((resolve) => upload.on('finish', resolve));
    assert.equal(stream.writableFinished, true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(ends, [[15, 'ok']]);
    // An upload that did not complete reports once it was cleaned up, after 'close'.
    const reported = new Promise<void>((resolve) => {
      const transfer = testTransfer({
        path: '/g',
        writable: true,
        onEnd: ([line]) => {
          ends.push([line!.bytes, line!.status]);
          resolve();
        },
      });
      const aborted = new MeteredWritable(sink().stream, transfer);
      aborted.write(Buffer.alloc(3));
      aborted.destroy();
    });
    await reported;
    assert.deepEqual(ends[1], [3, 'incomplete']);
  });
});
