// The Protector against real clients (issue 10): paramiko and OpenSSH play several clients from
// 127.0.0.2, 127.0.0.3 ... (sockets bound to that source) against one Ferry site on 127.0.0.1.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { SiteLists, SiteProtector } from '../../../src/config/model/protector.ts';
import type { Site } from '../../../src/config/model/site.ts';
import { DEFAULT_SITE_PROTECTOR } from '../../../src/config/model/protector.ts';
import { Protector } from '../../../src/protector/protector.ts';
import type { ProtectedSite, ProtectorEvent } from '../../../src/protector/protector.ts';
import { PASSWORD, python, run, startHarness, waitForLog } from './harness.ts';
import type { Harness } from './harness.ts';

interface Protected {
  readonly h: Harness;
  readonly protector: Protector;
  readonly events: ProtectorEvent[];
}

async function protectedSite(protector: SiteProtector, lists: SiteLists = {}, options: { proxyProtocol?: boolean } = {}): Promise<Protected> {
  let made: Protector | undefined;
  const events: ProtectorEvent[] = [];
  const h = await startHarness({
    ...options,
    site: { protector, lists } as Partial<Site>,
    protector: (getView, logger) => {
      made = new Protector({ site: (id) => getView().site(id) as ProtectedSite | undefined, now: Date.now, logger });
      made.subscribe((event) => events.push(event));
      return made;
    },
  });
  return { h, protector: made as Protector, events };
}

// Wrong passwords from `source` until the server refuses the connection; prints how many
// attempts were made and whether the last connection was refused before the SSH banner.
const BRUTE_FORCE = String.raw`
import json, socket, sys, time, paramiko
port, source, password, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
attempts, refused, connections = 0, False, 0
while attempts < limit and not refused:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    try:
        sock.connect(('127.0.0.1', port))
        t = paramiko.Transport(sock)
        t.start_client(timeout=10)
    except Exception:
        refused = True
        break
    connections += 1
    # An attempt is a password sent on a live connection; the server may cut it at any answer.
    while attempts < limit and t.is_active():
        attempts += 1
        try:
            t.auth_password('alice', password)
            break
        except paramiko.AuthenticationException:
            pass
        except Exception:
            break
        time.sleep(0.05)
    t.close()
print(json.dumps({'attempts': attempts, 'refused': refused, 'connections': connections}))
`;

async function bruteForce(h: Harness, source: string, limit: number, password = 'wrong password'): Promise<{ attempts: number; refused: boolean; connections: number }> {
  const result = await python(BRUTE_FORCE, [String(h.port), source, password, String(limit)], 120_000);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as { attempts: number; refused: boolean; connections: number };
}

/** Connects from `source` and waits for the server's first bytes or its close; true when it answered. */
function probe(port: number, source: string): Promise<{ answered: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: source });
    socket.setTimeout(5_000);
    socket.once('data', () => {
      socket.destroy();
      resolve({ answered: true });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ answered: false, error: error.code ?? error.message }));
    socket.once('close', () => resolve({ answered: false }));
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ answered: false, error: 'timeout' });
    });
  });
}

/** Connect, read the SSH banner, disconnect: a load balancer's health check. */
async function healthCheck(port: number, source: string): Promise<void> {
  const { answered } = await probe(port, source);
  assert.ok(answered, `the health check from ${source} was refused`);
}

/** A paramiko SFTP session from `source` running `body` (Python statements on `sftp`), then closing the socket without DISCONNECT. */
async function paramikoSftp(h: Harness, source: string, body: string): Promise<string> {
  const script = String.raw`
import socket, sys, paramiko
sock = socket.socket()
sock.bind((sys.argv[2], 0))
sock.connect(('127.0.0.1', int(sys.argv[1])))
t = paramiko.Transport(sock)
t.start_client(timeout=10)
t.auth_password('alice', sys.argv[3])
sftp = paramiko.SFTPClient.from_transport(t)
out = []
${body}
print(' '.join(out))
t.close()
`;
  const result = await python(script, [String(h.port), source, PASSWORD]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

/** OpenSSH sftp with a password from `source` (-o BindAddress). */
async function opensshSftp(h: Harness, source: string, commands: string): Promise<{ code: number; stderr: string }> {
  const file = path.join(h.dir, `batch-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, commands);
  return run('sshpass', ['-p', PASSWORD, 'sftp', '-P', String(h.port), ...h.sshOptions(['-o', 'BatchMode=no', '-o', `BindAddress=${source}`]), '-b', file, 'alice@127.0.0.1'], { timeoutMs: 30_000 });
}

describe('Protector: automatic blocking by strikes', () => {
  for (const sensitivity of ['indulgent', 'normal', 'strict', 'paranoid'] as const) {
    const threshold = DEFAULT_SITE_PROTECTOR.thresholds[sensitivity];
    it(`a paramiko brute force is blocked at the ${sensitivity} threshold (${threshold} wrong passwords), and the safe-listed address survives the same run`, async () => {
      const { h, protector } = await protectedSite({ sensitivity }, { safe: [{ entry: '127.0.0.3' }] });
      try {
        const attacker = await bruteForce(h, '127.0.0.2', threshold + 10);
        assert.deepEqual({ attempts: attacker.attempts, refused: attacker.refused }, { attempts: threshold, refused: true });
        assert.deepEqual(protector.blocked('default').map((b) => b.key), ['127.0.0.2']);
        const [line] = await waitForLog(h, 'protector: 127.0.0.2 blocked');
        assert.match(String(line?.reason), /authentication: login failed for "alice": wrong password/);
        // The refusal is logged with its reason, once per source per interval.
        const refused = await waitForLog(h, 'connection refused, blocked automatically');
        assert.equal(refused[0]?.source, '127.0.0.2');
        const safe = await bruteForce(h, '127.0.0.3', threshold + 2);
        assert.deepEqual({ attempts: safe.attempts, refused: safe.refused }, { attempts: threshold + 2, refused: false });
        // A third address is untouched by the others' blocks, and logs in.
        assert.equal((await opensshSftp(h, '127.0.0.4', 'pwd\n')).code, 0);
      } finally {
        await h.stop();
      }
    });
  }

  it('connect-then-disconnect loops (a health check) are a violation at normal, not at indulgent', async () => {
    for (const sensitivity of ['indulgent', 'normal'] as const) {
      const { h, protector } = await protectedSite({ sensitivity, thresholds: { indulgent: 5, normal: 5 } });
      try {
        for (let i = 0; i < 5; i++) await healthCheck(h.port, '127.0.0.5');
        // The close is seen by the server a moment after the client's.
        const deadline = Date.now() + 3_000;
        while (sensitivity === 'normal' && protector.blocked('default').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const after = await probe(h.port, '127.0.0.5');
        assert.equal(after.answered, sensitivity === 'indulgent', `${sensitivity}: ${JSON.stringify(after)}`);
      } finally {
        await h.stop();
      }
    }
  });

  it('strict counts a missing-file download (paramiko get), normal does not', async () => {
    for (const sensitivity of ['normal', 'strict'] as const) {
      const { h, events } = await protectedSite({ sensitivity });
      try {
        const out = await paramikoSftp(h, '127.0.0.6', `
for i in range(3):
    try:
        sftp.get('missing-%d.txt' % i, '/dev/null')
    except IOError as e:
        out.append(str(e.errno))
`);
        assert.equal(out, '2 2 2');
        const strikes = events.filter((e) => e.type === 'strike' && e.kind === 'protocol-error');
        assert.equal(strikes.length, sensitivity === 'strict' ? 3 : 0, sensitivity);
      } finally {
        await h.stop();
      }
    }
  });

  it('paranoid counts a disconnect without goodbye (paramiko), not OpenSSH\'s polite exit', async () => {
    const { h, events, protector } = await protectedSite({ sensitivity: 'paranoid' });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await opensshSftp(h, '127.0.0.7', 'pwd\n')).code, 0);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(events, [], 'OpenSSH says goodbye (DISCONNECT) when it exits');
      for (let i = 0; i < 3; i++) await paramikoSftp(h, '127.0.0.8', `out.append(sftp.getcwd() or '/')`);
      const deadline = Date.now() + 3_000;
      while (protector.blocked('default').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual((events as ProtectorEvent[]).flatMap((e) => (e.type === 'strike' ? [e.kind] : [])), ['no-goodbye', 'no-goodbye', 'no-goodbye']);
      assert.equal((await probe(h.port, '127.0.0.8')).answered, false);
      assert.equal((await probe(h.port, '127.0.0.7')).answered, true);
    } finally {
      await h.stop();
    }
  });

  it('an automatic block expires by itself', async () => {
    const { h } = await protectedSite({ sensitivity: 'paranoid', blockDurationMs: 1_500 });
    try {
      const first = await bruteForce(h, '127.0.0.9', 10);
      assert.deepEqual({ attempts: first.attempts, refused: first.refused }, { attempts: 3, refused: true });
      assert.equal((await probe(h.port, '127.0.0.9')).answered, false);
      await new Promise((r) => setTimeout(r, 1_600));
      assert.equal((await opensshSftp(h, '127.0.0.9', 'pwd\n')).code, 0);
    } finally {
      await h.stop();
    }
  });
});

describe('Protector: lists', () => {
  it('with an allow-list only its addresses connect; others see the connection reset, and the log says why', async () => {
    const { h } = await protectedSite({}, { allow: [{ entry: '127.0.0.10/31' }] });
    try {
      assert.equal((await opensshSftp(h, '127.0.0.11', 'pwd\n')).code, 0);
      const other = await opensshSftp(h, '127.0.0.12', 'pwd\n');
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, /reset by peer|closed by remote host|Connection closed/i);
      const [line] = await waitForLog(h, 'connection refused, not on the allow-list');
      assert.equal(line?.source, '127.0.0.12');
    } finally {
      await h.stop();
    }
  });

  it('a block-listed network is refused before the SSH banner', async () => {
    const { h } = await protectedSite({}, { block: [{ entry: '127.0.0.12/255.255.255.252', comment: 'test' }] });
    try {
      assert.equal((await probe(h.port, '127.0.0.13')).answered, false);
      assert.equal((await probe(h.port, '127.0.0.16')).answered, true);
      await waitForLog(h, 'connection refused, block-listed');
    } finally {
      await h.stop();
    }
  });
});

/** Sends `header` (hex) from `source`, then logs in with paramiko over the same socket; prints OK or the error. */
const THROUGH_BALANCER = String.raw`
import socket, sys, paramiko
port, source, header, password = int(sys.argv[1]), sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4]
sock = socket.socket()
sock.bind((source, 0))
sock.settimeout(10)
try:
    # An untrusted source is reset at accept: even the header's send may fail.
    sock.connect(('127.0.0.1', port))
    sock.sendall(header)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    t.auth_password('alice', password)
    sftp = paramiko.SFTPClient.from_transport(t)
    print('OK', sftp.normalize('.'))
    t.close()
except Exception as e:
    print('REFUSED', type(e).__name__)
`;

async function throughBalancer(h: Harness, source: string, header: Buffer): Promise<string> {
  const result = await python(THROUGH_BALANCER, [String(h.port), source, header.toString('hex'), PASSWORD]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

describe('Protector: behind a load balancer (PROXY protocol)', () => {
  const v1 = (client: string, port: number) => Buffer.from(`PROXY TCP4 ${client} 127.0.0.1 40000 ${port}\r\n`);

  it('a trusted balancer\'s v1 header names the client: logs and the lists see the client, not the balancer', async () => {
    const { h } = await protectedSite({ proxyTrustedSources: ['127.0.0.20'] }, { block: [{ entry: '198.51.100.0/24' }] }, { proxyProtocol: true });
    try {
      assert.equal(await throughBalancer(h, '127.0.0.20', v1('203.0.113.5', h.port)), 'OK /');
      const [line] = await waitForLog(h, 'ssh: connection');
      assert.deepEqual({ remote: line?.remote, via: line?.via }, { remote: '203.0.113.5', via: '127.0.0.20' });
      assert.equal(h.records.find((r) => r.operation === 'login')?.remoteAddress, '203.0.113.5');
      assert.match(await throughBalancer(h, '127.0.0.20', v1('198.51.100.77', h.port)), /^REFUSED/);
      const [refused] = await waitForLog(h, 'connection refused, block-listed');
      assert.equal(refused?.source, '198.51.100.77');
    } finally {
      await h.stop();
    }
  });

  it('a v2 header works, and a v2 LOCAL health check is admitted as the balancer itself', async () => {
    const { h } = await protectedSite({ proxyTrustedSources: ['127.0.0.20/31'] }, {}, { proxyProtocol: true });
    try {
      const body = Buffer.from([203, 0, 113, 6, 127, 0, 0, 1, 0x9c, 0x40, 0, 22]);
      const header = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0, body.length]), body]);
      assert.equal(await throughBalancer(h, '127.0.0.21', header), 'OK /');
      assert.equal((await waitForLog(h, 'ssh: connection'))[0]?.remote, '203.0.113.6');
      const local = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x20, 0x00, 0, 0])]);
      assert.equal(await throughBalancer(h, '127.0.0.20', local), 'OK /');
      await waitForLog(h, 'ssh: connection closed', { count: 2 });
      assert.deepEqual(h.logs.filter((l) => l.msg === 'ssh: connection').map((l) => l.remote), ['203.0.113.6', '127.0.0.20']);
    } finally {
      await h.stop();
    }
  });

  it('PROXY headers from a source that is not trusted are refused, and so is a trusted source without one', async () => {
    const { h } = await protectedSite({ proxyTrustedSources: ['127.0.0.20'] }, {}, { proxyProtocol: true });
    try {
      assert.match(await throughBalancer(h, '127.0.0.22', v1('10.9.9.9', h.port)), /^REFUSED/);
      const [untrusted] = await waitForLog(h, 'connection refused, PROXY protocol from a source that is not trusted');
      assert.equal(untrusted?.source, '127.0.0.22');
      assert.match(await throughBalancer(h, '127.0.0.20', Buffer.from('SSH-2.0-paramiko\r\n')), /^REFUSED/);
      const [missing] = await waitForLog(h, 'PROXY protocol header refused');
      assert.match(String(missing?.reason), /no PROXY protocol header/);
      assert.equal(h.logs.filter((l) => l.msg === 'ssh: connection').length, 0, 'nothing reached the SSH server');
    } finally {
      await h.stop();
    }
  });
});
