// A private vsftpd for the FTP bench, started as /work/shared/testing/peers/04-vsftpd.sh does: its
// own config, certificate and throwaway local user (vsftpd logs in local accounts through PAM), on
// a free 127.0.0.1 port, in the foreground so we own its PID. Never the system service.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, liveChildren, mustRun, run, sleep, stopPid } from './proc.ts';

export interface Vsftpd {
  readonly pid: number;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** local_root: where the user's FTP paths point. */
  readonly root: string;
  readonly version: string;
  stop(): Promise<void>;
}

const BINARY = '/usr/sbin/vsftpd';

export async function startVsftpd(dir: string): Promise<Vsftpd> {
  if (!existsSync(BINARY)) throw new Error(`no ${BINARY}: install it with \`apt-get install -y vsftpd\` (the bench starts its own, never the system service)`);
  if (process.getuid?.() !== 0) throw new Error('vsftpd needs root here (a throwaway local user and PAM logins)');
  const root = path.join(dir, 'root');
  const empty = path.join(dir, 'empty');
  mkdirSync(root, { recursive: true });
  mkdirSync(empty, { recursive: true });
  chmodSync(empty, 0o755);
  const user = `ferrybench${randomBytes(3).toString('hex')}`;
  const password = `Bench-${randomBytes(9).toString('base64url')}`;
  await mustRun(['useradd', '-M', '-d', root, '-s', '/bin/bash', user]);
  const deleteUser = async (): Promise<void> => {
    await run(['userdel', user]);
  };
  let pid: number | undefined;
  try {
    await mustRun(['sh', '-c', `echo '${user}:${password}' | chpasswd`]);
    const { uid, gid } = await ids(user);
    chownSync(root, uid, gid);
    await mustRun(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
    const port = await freePort();
    const conf = path.join(dir, 'vsftpd.conf');
    writeFileSync(
      conf,
      [
        'listen=YES',
        'listen_ipv6=NO',
        'listen_address=127.0.0.1',
        `listen_port=${port}`,
        'background=NO',
        'anonymous_enable=NO',
        'local_enable=YES',
        'write_enable=YES',
        'local_umask=022',
        `local_root=${root}`,
        'chroot_local_user=NO',
        `secure_chroot_dir=${empty}`,
        'pam_service_name=vsftpd',
        'userlist_enable=NO',
        'seccomp_sandbox=NO',
        'pasv_enable=YES',
        'pasv_address=127.0.0.1',
        'port_enable=YES',
        'xferlog_enable=NO',
        'use_localtime=NO',
        // The same choices as the peers' anchor: TLS offered, not forced, no reuse demanded.
        'ssl_enable=YES',
        'allow_anon_ssl=NO',
        'force_local_logins_ssl=NO',
        'force_local_data_ssl=NO',
        'require_ssl_reuse=NO',
        'ssl_ciphers=HIGH',
        `rsa_cert_file=${path.join(dir, 'cert.pem')}`,
        `rsa_private_key_file=${path.join(dir, 'key.pem')}`,
        `vsftpd_log_file=${path.join(dir, 'vsftpd.log')}`,
        // The 1,000-file mirror opens one data connection per file: do not throttle them.
        'max_per_ip=0',
        'max_clients=0',
        '',
      ].join('\n'),
    );
    const child = spawn(BINARY, [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    liveChildren.add(child);
    child.on('exit', () => liveChildren.delete(child));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
    pid = child.pid as number;
    await listening(port, () => child.exitCode !== null, () => stderr);
    // vsftpd -v writes its version to file descriptor 0.
    const version = (await run(['sh', '-c', `${BINARY} -v 0>&1`])).output.trim();
    const started = pid;
    return {
      pid: started,
      port,
      user,
      password,
      root,
      version,
      async stop() {
        await stopPid(started);
        await deleteUser();
      },
    };
  } catch (err) {
    if (pid !== undefined) await stopPid(pid);
    await deleteUser();
    throw err;
  }
}

async function ids(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await mustRun(['id', '-u', user])).output.trim());
  const gid = Number((await mustRun(['id', '-g', user])).output.trim());
  return { uid, gid };
}

async function listening(port: number, exited: () => boolean, stderr: () => string): Promise<void> {
  for (const end = Date.now() + 15_000; Date.now() < end; await sleep(100)) {
    if (exited()) throw new Error(`vsftpd exited at start: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
  }
  throw new Error(`vsftpd did not listen on 127.0.0.1:${port} within 15 s: ${stderr()}`);
}
