// Real FTP clients (curl, lftp, Python ftplib) against Ferry's FTP, FTPES and implicit FTPS
// listeners, passive and active, over the Session on real disk storage.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curl, ftpUrl, ftplib, lftp } from '../../helpers/ftp-clients.ts';
import { FTP_PASSWORD, startFtpTestServer } from '../../helpers/ftp-server.ts';
import type { FtpTestServer } from '../../helpers/ftp-server.ts';

const USER = 'alice';

describe('FTP clients', () => {
  let server: FtpTestServer;
  let work: string;
  const plain = () => ({ host: server.host, port: server.port });
  const implicit = () => ({ host: server.host, port: server.ftpsPort });

  before(async () => {
    // Plain FTP is off by default; these tests cover it too, so this site turns it on.
    server = await startFtpTestServer({ security: { allowPlainLogin: true } });
    work = await mkdtemp(path.join(tmpdir(), 'ferry-ftp-client-'));
  });
  after(async () => {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('curl uploads, lists and downloads over plain FTP, in passive and in active mode', async () => {
    const local = path.join(work, 'curl-plain.txt');
    writeFileSync(local, 'plain curl upload\n');
    await curl(['-T', local, ftpUrl('ftp', plain(), USER, FTP_PASSWORD, '/curl-plain.txt')]);
    assert.equal(readFileSync(path.join(server.homeOf(USER), 'curl-plain.txt'), 'utf8'), 'plain curl upload\n');
    const passive = await curl([ftpUrl('ftp', plain(), USER, FTP_PASSWORD, '/curl-plain.txt')]);
    assert.equal(passive.stdout, 'plain curl upload\n');
    const active = await curl(['-P', '-', ftpUrl('ftp', plain(), USER, FTP_PASSWORD, '/curl-plain.txt')]);
    assert.equal(active.stdout, 'plain curl upload\n');
    const activeList = await curl(['-P', '-', '--disable-eprt', ftpUrl('ftp', plain(), USER, FTP_PASSWORD, '/')]);
    assert.match(activeList.stdout, /^-rw-r--r-- .* alice +alice +18 .* curl-plain\.txt\r?$/m);
    const names = await curl(['-l', '--disable-epsv', ftpUrl('ftp', plain(), USER, FTP_PASSWORD, '/')]);
    assert.ok(names.stdout.split(/\r?\n/).includes('curl-plain.txt'));
  });

  // Active mode with TLS is lftp's below: curl 7.87-7.88 (Debian bookworm's) never starts TLS on
  // an accepted data connection (curl/curl#10666, a client regression fixed in 8.0).
  it('curl speaks FTPES (--ssl-reqd) and implicit FTPS with protected data, resuming the TLS session', async () => {
    const local = path.join(work, 'curl-tls.txt');
    writeFileSync(local, 'tls curl upload\n');
    await curl(['--ssl-reqd', '-T', local, ftpUrl('ftp', plain(), USER, FTP_PASSWORD, '/curl-tls.txt')]);
    assert.equal((await curl(['--ssl-reqd', ftpUrl('ftp', plain(), USER, FTP_PASSWORD, '/curl-tls.txt')])).stdout, 'tls curl upload\n');
    assert.equal((await curl([ftpUrl('ftps', implicit(), USER, FTP_PASSWORD, '/curl-tls.txt')])).stdout, 'tls curl upload\n');
    await curl(['-T', local, ftpUrl('ftps', implicit(), USER, FTP_PASSWORD, '/implicit.txt')]);
    assert.equal(readFileSync(path.join(server.homeOf(USER), 'implicit.txt'), 'utf8'), 'tls curl upload\n');
    // The transfer log names the subsystem each connection used.
    const protocols = new Set(server.records.filter((r) => r.operation === 'upload').map((r) => r.protocol));
    for (const protocol of ['ftp', 'ftpes', 'ftps']) assert.ok(protocols.has(protocol), `${protocol} in ${[...protocols].join(',')}`);
  });

  it('lftp puts, lists, gets and mirrors a folder both ways over plain FTP, FTPES and implicit FTPS', async () => {
    const tree = path.join(work, 'tree');
    mkdirSync(path.join(tree, 'sub'), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(path.join(tree, `f${i}.txt`), `file ${i}\n`.repeat(i + 1));
    writeFileSync(path.join(tree, 'sub', 'deep.bin'), Buffer.alloc(200_000, 7));
    const variants = [
      { name: 'plain', url: `ftp://${server.host}:${server.port}`, tls: false },
      { name: 'ftpes', url: `ftp://${server.host}:${server.port}`, tls: true },
      { name: 'ftps', url: `ftps://${server.host}:${server.ftpsPort}`, tls: false },
      { name: 'ftpes-active', url: `ftp://${server.host}:${server.port}`, tls: true, active: true },
    ];
    for (const v of variants) {
      const back = path.join(work, `back-${v.name}`);
      const out = await lftp(v.url, USER, FTP_PASSWORD, `mkdir m-${v.name}; mirror -R ${tree} m-${v.name}/tree; cls -1 m-${v.name}/tree; mirror m-${v.name}/tree ${back}; get m-${v.name}/tree/f4.txt -o ${path.join(work, `${v.name}-f4.txt`)}`, {
        cwd: work,
        tls: v.tls,
        ...(v.active ? { active: true } : {}),
      });
      assert.match(out.stdout, /f0\.txt/, v.name);
      assert.deepEqual(readdirSync(back).sort(), ['f0.txt', 'f1.txt', 'f2.txt', 'f3.txt', 'f4.txt', 'sub'], v.name);
      assert.deepEqual(readFileSync(path.join(back, 'sub', 'deep.bin')), Buffer.alloc(200_000, 7), v.name);
      assert.equal(readFileSync(path.join(work, `${v.name}-f4.txt`), 'utf8'), 'file 4\n'.repeat(5), v.name);
      assert.deepEqual(readFileSync(path.join(server.homeOf(USER), `m-${v.name}`, 'tree', 'sub', 'deep.bin')), Buffer.alloc(200_000, 7), v.name);
    }
  });

  it('Python ftplib uses every command of a modern client: MLSD, MLST, SIZE, MDTM, MFMT, REST resume both ways, APPE, STOU, SITE CHMOD, XSHA256', async () => {
    const out = await ftplib<Record<string, unknown>>('plain', plain(), USER, FTP_PASSWORD);
    assert.match(out.welcome as string, /^220 Ferry default ready$/);
    assert.equal(out.pwd, '/');
    assert.equal(out.size, 1_024_000);
    assert.equal(out.same, true);
    assert.equal(out.rest_download_same, true);
    assert.equal(out.rest_upload_same, true);
    assert.equal(out.appended_size, 1_024_004);
    assert.equal(out.stou_reply, '226 Transfer complete');
    const mlsd = out.mlsd as [string, string, string | null][];
    assert.deepEqual(mlsd.filter(([name]) => name !== mlsd.find(([n]) => n.startsWith('ftp-upload.'))?.[0]), [['data.bin', 'file', '1024000'], ['part.bin', 'file', '1024004']]);
    assert.ok(mlsd.some(([name, type, size]) => name.startsWith('ftp-upload.') && type === 'file' && size === '6'));
    assert.match(out.mlst as string, /^250-Listing \/dir\/data\.bin\n type=file;size=1024000;modify=\d{14};UNIX\.mode=0644; \/dir\/data\.bin\n250 End$/);
    assert.match(out.mdtm as string, /^213 \d{14}$/);
    assert.equal(out.mfmt, '213 Modify=20200102030405; /dir/data.bin');
    assert.equal(out.mdtm_after, '213 20200102030405');
    assert.equal(out.chmod, '200 SITE CHMOD command ok');
    assert.equal(out.sha256, `250 ${out.sha256_expected as string}`);
    assert.equal(out.rename, '250 Rename successful');
    assert.equal(out.delete, '250 File deleted');
    assert.match(out.feat as string, / MLST type\*;size\*;modify\*;UNIX\.mode\*;\n/);
    assert.match(out.feat as string, / AUTH TLS\n/);
    assert.equal(out.opts, '200 Always in UTF8 mode');
    assert.equal(out.unknown, '502');
    assert.equal(out.quit, '221 Goodbye');
    assert.equal(readdirSync(path.join(server.homeOf(USER), 'dir')).filter((n) => n.startsWith('ftp-upload.')).length, 1);
  });

  it('Python FTP_TLS: a data connection that does not resume the control TLS session is refused with 522, one that does works', async () => {
    const out = await ftplib<{ default: string; reusing: string[] }>('tls_reuse', plain(), USER, FTP_PASSWORD);
    assert.match(out.default, /^522 .*TLS session/);
    assert.ok(out.reusing.includes('reusing.txt'));
    assert.ok(server.logs.some((line) => line.msg === 'ftp: data connection failed' && line.code === 522));
  });

  it('FTPES refuses clear data connections where the site requires protected data (521)', async () => {
    const out = await ftplib<{ nlst: string }>('tls_clear_data', plain(), USER, FTP_PASSWORD);
    assert.match(out.nlst, /^521 /);
  });
});
