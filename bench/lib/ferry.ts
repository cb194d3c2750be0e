// A Ferry node started the way an operator does (bin/ferry.js start), with one imported user
// whose home is a plain directory, reached by real clients through sshpass and a password.
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runFerry, startFerryNode } from '../../test/helpers/ferry-node.ts';
import { run, sleep } from './proc.ts';
import { clientHost } from './sshd.ts';

export interface Ferry {
  readonly pid: number;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The user's home on disk: what `src.bin` and `up.bin` in SFTP paths refer to. */
  readonly home: string;
  stop(): Promise<void>;
}

/** Starts a node under `dir` and adds Host `ferry` to the shared ssh_config. */
export async function startFerry(dir: string, sshConfig: string): Promise<Ferry> {
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const node = await startFerryNode({ dataDir: path.join(dir, 'data'), timeoutMs: 60_000 });
  const stop = async (): Promise<void> => {
    await node.stop();
  };
  try {
    const user = 'bench';
    const password = `bench-${randomBytes(9).toString('base64url')}`;
    const csv = path.join(dir, 'users.csv');
    writeFileSync(csv, `${user},"${password}",${home},"ssh2_sftp,ssh2_scp","dirList,dirMake,fileGet,filePut,fileModify,fileRename,fileDelete"\n`);
    const imported = await runFerry(['importusers', '--data', node.dataDir, '--csv', csv, '--vsite', 'default', '--makevfs']);
    if (imported.code !== 0) throw new Error(`ferry importusers failed:\n${imported.stdout}${imported.stderr}`);
    appendFileSync(
      sshConfig,
      clientHost('ferry', node.sftpPort, [`User ${user}`, 'PubkeyAuthentication no', 'PreferredAuthentications password,keyboard-interactive', 'NumberOfPasswordPrompts 1', 'BatchMode no'], dir),
    );
    await loginWorks(sshConfig, password);
    return { pid: node.process.pid as number, port: node.sftpPort, user, password, home, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The node applies imported users shortly after importusers returns: wait until a login works. */
async function loginWorks(sshConfig: string, password: string): Promise<void> {
  let last = '';
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(300)) {
    const result = await run(['sshpass', '-p', password, 'sftp', '-o', 'BatchMode=no', '-F', sshConfig, '-b', '/dev/null', 'ferry'], { timeoutMs: 20_000 });
    if (result.code === 0) return;
    last = result.output;
  }
  throw new Error(`no SFTP login to Ferry within 60 s: ${last}`);
}
