// 1 GiB up and down through the real OpenSSH client with checksums, while the server's resident
// memory is sampled: flow control must keep it flat, whatever the file size.
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { serverRss, sftpBatch, sha256, tempDir } from './openssh-batch.ts';

const SIZE = 1024 * 1024 * 1024;
const RSS_LIMIT = 400 * 1024 * 1024;

async function* randomChunks(total: number): AsyncGenerator<Buffer> {
  for (let left = total; left > 0; left -= 4 << 20) yield randomFillSync(Buffer.allocUnsafe(Math.min(left, 4 << 20)));
}

async function transferSampled(home: string, local: string, command: string): Promise<number> {
  let peak = 0;
  let timer: NodeJS.Timeout | undefined;
  const result = await sftpBatch({ home }, local, [command], {
    timeoutMs: 600_000,
    onSpawn: (pid) => {
      timer = setInterval(() => void serverRss(pid).then((rss) => (peak = Math.max(peak, rss ?? 0))), 100);
    },
  });
  clearInterval(timer);
  assert.equal(result.code, 0, result.stderr);
  return peak;
}

test('a 1 GiB file goes up and comes back down intact with the server memory bounded', { timeout: 900_000 }, async (t) => {
  const root = await tempDir(t, 'ferry-sftp-large-');
  const home = path.join(root, 'home');
  const local = path.join(root, 'local');
  await mkdir(home);
  await mkdir(local);
  const source = path.join(local, 'big.bin');
  await pipeline(randomChunks(SIZE), createWriteStream(source));
  const expected = await sha256(source);

  const uploadPeak = await transferSampled(home, local, 'put big.bin');
  assert.equal(await sha256(path.join(home, 'big.bin')), expected);
  await rm(source);

  const downloadPeak = await transferSampled(home, local, 'get big.bin back.bin');
  assert.equal(await sha256(path.join(local, 'back.bin')), expected);
  t.diagnostic(`server peak RSS: upload ${(uploadPeak / 2 ** 20).toFixed(0)} MiB, download ${(downloadPeak / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(uploadPeak > 0 && downloadPeak > 0, 'the server process was sampled');
  assert.ok(uploadPeak < RSS_LIMIT, `upload peak RSS ${uploadPeak}`);
  assert.ok(downloadPeak < RSS_LIMIT, `download peak RSS ${downloadPeak}`);
});
