// A whole node with FTP: `ferry start --ftp-port 0 --ftps-port 0 --pasv-ports A-B` prints the
// listening lines, stores the default site's FTP bindings, makes a self-signed certificate in the
// data directory, and serves an imported user over FTPES (lftp) and implicit FTPS (curl).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curl, ftpUrl, ftplib, lftp } from '../../helpers/ftp-clients.ts';
import { importCsvUser, removeDir, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

async function listeningLine(node: RunningNode, protocol: string): Promise<{ host: string; port: number }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    for (const line of node.stdout) {
      const m = new RegExp(`^listening ${protocol} (127\\.0\\.0\\.1):(\\d+)$`).exec(line);
      if (m) return { host: m[1] as string, port: Number(m[2]) };
    }
    if (Date.now() > deadline) throw new Error(`no "listening ${protocol}" line in ${node.stdout.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('ferry start with FTP', () => {
  let node: RunningNode;
  let work: string;
  let ftp: { host: string; port: number };
  let ftps: { host: string; port: number };
  before(async () => {
    work = tempDir('ferry-ftp-node-');
    node = await startFerryNode({ dataDir: path.join(work, 'data'), args: ['--ftp-port', '0', '--ftps-port', '0', '--pasv-ports', '50200-50219'] });
    ftp = await listeningLine(node, 'ftp');
    ftps = await listeningLine(node, 'ftps');
    await importCsvUser(node, { username: 'frank', password: 'ftp pass 1', home: path.join(work, 'frank'), subsystems: ['ftpes', 'ftps'], permissions: ['dirList', 'fileGet', 'filePut', 'fileModify'], work });
  });
  after(async () => {
    assert.equal(await node.stop(), 0);
    removeDir(work);
  });

  it('prints listening ftp and listening ftps lines and keeps its certificate in <data>/tls', () => {
    assert.ok(ftp.port > 0 && ftps.port > 0 && ftp.port !== ftps.port);
    assert.ok(existsSync(path.join(node.dataDir, 'tls', 'ftp-default.crt')));
    assert.ok(existsSync(path.join(node.dataDir, 'tls', 'ftp-default.key')));
  });

  it('serves FTPES with lftp and implicit FTPS with curl, and refuses a plain login', async () => {
    writeFileSync(path.join(work, 'up.txt'), 'through the node\n');
    await lftp(`ftp://${ftp.host}:${ftp.port}`, 'frank', 'ftp pass 1', `put ${path.join(work, 'up.txt')} -o up.txt; get up.txt -o ${path.join(work, 'back.txt')}`, { tls: true, cwd: work });
    assert.equal(readFileSync(path.join(work, 'back.txt'), 'utf8'), 'through the node\n');
    assert.equal(readFileSync(path.join(work, 'frank', 'up.txt'), 'utf8'), 'through the node\n');
    assert.equal((await curl([ftpUrl('ftps', ftps, 'frank', 'ftp pass 1', '/up.txt')])).stdout, 'through the node\n');
    assert.equal((await ftplib<{ login: string }>('login_code', ftp, 'frank', 'ftp pass 1')).login, '530');
  });

  it('answers PASV with a port of the --pasv-ports range', async () => {
    const out = await curl(['-v', '--ssl-reqd', '--disable-epsv', '-l', ftpUrl('ftp', ftp, 'frank', 'ftp pass 1', '/')]);
    const m = /227 Entering Passive Mode \(127,0,0,1,(\d+),(\d+)\)/.exec(out.stderr);
    assert.ok(m, out.stderr);
    const port = Number(m[1]) * 256 + Number(m[2]);
    assert.ok(port >= 50_200 && port <= 50_219, String(port));
  });
});
