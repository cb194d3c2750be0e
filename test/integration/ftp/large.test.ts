// Large and resumed transfers with real clients: 1 GiB up and down over FTPES with matching
// SHA-256, and an upload and a download cut in the middle and resumed (curl -C -, which uses
// SIZE with APPE for uploads and REST for downloads).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curl, ftpUrl, lftp } from '../../helpers/ftp-clients.ts';
import { FTP_PASSWORD, startFtpTestServer } from '../../helpers/ftp-server.ts';
import type { FtpTestServer } from '../../helpers/ftp-server.ts';

const GIB = 1024 * 1024 * 1024;

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `size` bytes that differ in every MiB (a block counter in each), so a misplaced block shows. */
async function writeLarge(file: string, size: number): Promise<void> {
  const out = createWriteStream(file);
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
  for (let written = 0, n = 0; written < size; written += block.length, n++) {
    block.writeUInt32BE(n, 0);
    if (!out.write(Buffer.from(block.subarray(0, Math.min(block.length, size - written))))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

describe('large FTP transfers', () => {
  let server: FtpTestServer;
  let work: string;
  before(async () => {
    server = await startFtpTestServer();
    work = await mkdtemp(path.join(tmpdir(), 'ferry-ftp-large-'));
  });
  after(async () => {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('moves 1 GiB up with curl and down with lftp over FTPES with matching SHA-256', { timeout: 300_000 }, async () => {
    const local = path.join(work, 'gib.bin');
    await writeLarge(local, GIB);
    const expected = await sha256(local);
    const target = { host: server.host, port: server.port };
    await curl(['--ssl-reqd', '-T', local, ftpUrl('ftp', target, 'alice', FTP_PASSWORD, '/gib.bin')], { timeoutMs: 240_000 });
    assert.equal(await sha256(path.join(server.homeOf('alice'), 'gib.bin')), expected);
    const back = path.join(work, 'gib-back.bin');
    await lftp(`ftp://${server.host}:${server.port}`, 'alice', FTP_PASSWORD, `get gib.bin -o ${back}`, { tls: true, timeoutMs: 240_000 });
    assert.equal(statSync(back).size, GIB);
    assert.equal(await sha256(back), expected);
    const upload = server.records.find((r) => r.operation === 'upload' && r.path === '/gib.bin');
    assert.equal(upload?.bytes, GIB);
    assert.equal(upload?.protocol, 'ftpes');
  });

  it('resumes a cut-off upload (SIZE, APPE) and a cut-off download (REST) to the same bytes', { timeout: 120_000 }, async () => {
    const local = path.join(work, 'resume.bin');
    await writeLarge(local, 48 * 1024 * 1024);
    const whole = readFileSync(local);
    const target = { host: server.host, port: server.port };
    // The first part arrives as if the connection had dropped after 20 MiB.
    const part = path.join(work, 'part.bin');
    writeFileSync(part, whole.subarray(0, 20 * 1024 * 1024));
    await curl(['--ssl-reqd', '-T', part, ftpUrl('ftp', target, 'alice', FTP_PASSWORD, '/resume.bin')]);
    await curl(['--ssl-reqd', '-C', '-', '-T', local, ftpUrl('ftp', target, 'alice', FTP_PASSWORD, '/resume.bin')]);
    assert.ok(readFileSync(path.join(server.homeOf('alice'), 'resume.bin')).equals(whole));
    // A download that stopped after 7 MiB is continued from there.
    const down = path.join(work, 'down.bin');
    writeFileSync(down, whole.subarray(0, 7 * 1024 * 1024));
    await curl(['--ssl-reqd', '-C', '-', '-o', down, ftpUrl('ftp', target, 'alice', FTP_PASSWORD, '/resume.bin')]);
    assert.ok(readFileSync(down).equals(whole));
    const download = server.records.filter((r) => r.operation === 'download' && r.path === '/resume.bin').at(-1);
    assert.equal(download?.bytes, whole.length - 7 * 1024 * 1024);
    truncateSync(down, 0);
  });
});
