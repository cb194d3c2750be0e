// Admin API throughput on one node: SuperAdmin logins per second (GET /api/v1/sa/login; each
// one verifies an argon2id hash on purpose, so this is the cost of a password check) and config
// writes per second through the API (PATCH /api/v1/sa/globalconfig; each one is a command
// committed through the node's Raft log and fsynced before it is answered). Keep-alive HTTPS
// from one process, CONCURRENCY requests in flight. No peer admin API runs here to compare with.
import https from 'node:https';
import { startFerryNode } from '../test/helpers/ferry-node.ts';
import { setUpSuperAdmin, SA_NAME, SA_PASSWORD } from '../test/helpers/admin-api.ts';

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const SECONDS = Number(process.env.SECONDS ?? 5);

const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, rejectUnauthorized: false });

function request(port: number, method: string, route: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path: route, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function rate(label: string, once: () => Promise<number>): Promise<void> {
  const deadline = Date.now() + SECONDS * 1000;
  const started = Date.now();
  let done = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        if ((await once()) === 200) done++;
        else failed++;
      }
    }),
  );
  const perSecond = done / ((Date.now() - started) / 1000);
  console.log(`${label.padEnd(44)} ${perSecond.toFixed(1).padStart(8)} /s  (${done} ok, ${failed} failed, ${CONCURRENCY} in flight)`);
}

const node = await startFerryNode();
try {
  const token = await setUpSuperAdmin(node);
  const basic = `Basic ${Buffer.from(`${SA_NAME}:${SA_PASSWORD}`).toString('base64')}`;
  await rate('SuperAdmin logins (GET /api/v1/sa/login)', () => request(node.adminPort, 'GET', '/api/v1/sa/login', { authorization: basic }));
  let n = 0;
  await rate('config writes (PATCH /api/v1/sa/globalconfig)', () =>
    request(node.adminPort, 'PATCH', '/api/v1/sa/globalconfig', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, JSON.stringify({ serverName: `bench ${n++}` })),
  );
  await rate('authenticated reads (GET /api/v1/sa/status)', () => request(node.adminPort, 'GET', '/api/v1/sa/status', { authorization: `Bearer ${token}` }));
} finally {
  agent.destroy();
  await node.stop();
}
