// A private OpenSSH sshd on 127.0.0.1 and a free port: the peer Ferry is measured against.
// Follows /work/shared/testing/peers/common.sh: its own host key, internal-sftp, root logs in
// with a generated client key only (PermitRootLogin prohibit-password), stopped by its PID.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { alive, freePort, mustRun, run, sleep, stopPid } from './proc.ts';

export interface Sshd {
  readonly pid: number;
  readonly port: number;
  /** ssh_config with Host `openssh` (this sshd) ; `addHost` appends more. */
  readonly sshConfig: string;
  readonly clientKey: string;
  readonly version: string;
  stop(): Promise<void>;
}

export async function startSshd(dir: string): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true }); // privilege-separation directory sshd insists on
  const hostKey = path.join(dir, 'host_ed25519');
  const clientKey = path.join(dir, 'client_ed25519');
  await mustRun(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await mustRun(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  copyFileSync(`${clientKey}.pub`, path.join(dir, 'authorized_keys'));
  const sshConfig = path.join(dir, 'ssh_config');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'sshd_config');
    writeFileSync(config, sshdConfig(dir, port, hostKey));
    await mustRun(['/usr/sbin/sshd', '-t', '-f', config]);
    writeFileSync(sshConfig, clientHost('openssh', port, ['User root', `IdentityFile ${clientKey}`, 'IdentitiesOnly yes', 'BatchMode yes'], dir));
    const child = spawn('/usr/sbin/sshd', ['-D', '-f', config, '-E', path.join(dir, 'sshd.log')], { stdio: 'ignore' });
    const pid = child.pid as number;
    if (await ready(sshConfig, pid)) {
      const version = (await run(['ssh', '-V'])).output.trim();
      return { pid, port, sshConfig, clientKey, version, stop: () => stopPid(pid) };
    }
    await stopPid(pid);
    // The port chosen a moment ago may have been taken by someone else meanwhile.
    if (attempt === 3) throw new Error(`sshd did not accept a login on 127.0.0.1; see ${dir}/sshd.log`);
  }
}

async function ready(sshConfig: string, pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) {
    if ((await run(['ssh', '-F', sshConfig, 'openssh', 'true'], { timeoutMs: 10_000 })).code === 0) return true;
    await sleep(200);
  }
  return false;
}

function sshdConfig(dir: string, port: number, hostKey: string): string {
  return `Port ${port}
ListenAddress 127.0.0.1
HostKey ${hostKey}
PidFile ${dir}/sshd.pid
AuthorizedKeysFile ${dir}/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 1000:100:1000
MaxSessions 1000
LogLevel ERROR
Subsystem sftp internal-sftp
`;
}

/** One `Host` block of the client config both servers are reached through. */
export function clientHost(alias: string, port: number, extra: readonly string[], dir: string): string {
  return [
    `Host ${alias}`,
    '  HostName 127.0.0.1',
    `  Port ${port}`,
    `  UserKnownHostsFile ${dir}/known_hosts_${alias}`,
    '  StrictHostKeyChecking no',
    '  ControlMaster no',
    '  ControlPath none',
    '  LogLevel ERROR',
    ...extra.map((line) => `  ${line}`),
    '',
  ].join('\n');
}
