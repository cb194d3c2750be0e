// The admin API as administrators drive it: curl, the way the reference's bash script does
// (Basic login, PATCH the global config, logout, the token refused afterwards), hostile input,
// and a walk over every route of the generated OpenAPI document that must fail closed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { runFerry, startFerryNode } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';
import { adminUrl, curl, forgeToken, loginSuperAdmin, SA_NAME, SA_PASSWORD, setUpSuperAdmin } from '../../helpers/admin-api.ts';

let node: RunningNode;
let token: string;
const url = (route: string) => adminUrl(node, route);

before(async () => {
  node = await startFerryNode();
  assert.match(node.stdout.join('\n'), /^listening https-admin 127\.0\.0\.1:\d+$/m);
  assert.match(node.setupCode ?? '', /^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  token = await setUpSuperAdmin(node);
});

after(async () => {
  await node.stop();
});

test('the setup step is over once a SuperAdmin exists, and genssc says so', async () => {
  const again = await curl(url('/api/v1/setup'), {
    method: 'POST',
    json: { code: node.setupCode, superadmin: { name: 'intruder', password: 'a long enough password' }, cluster: { mode: 'new' } },
  });
  assert.equal(again.status, 410);
  const genssc = await runFerry(['genssc', '--data', node.dataDir]);
  assert.notEqual(genssc.code, 0);
  assert.match(genssc.stderr, /has a SuperAdmin already/);
  const setup = await runFerry(['setup', '--superadmin', 'other', '--password-file', '/dev/null', '--data', node.dataDir]);
  assert.notEqual(setup.code, 0);
});

test('the reference script: Basic login, PATCH global config, logout, then the token is refused', async () => {
  const login = await loginSuperAdmin(node);
  const patched = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token: login, json: { jwtLifeSpan: 30, metricsAllowList: ['192.168.10.0/32'] } });
  assert.equal(patched.status, 200, patched.body);
  assert.deepEqual((patched.json as { metricsAllowList: string[] }).metricsAllowList, ['192.168.10.0/32']);
  const read = await curl(url('/api/v1/sa/globalconfig'), { token: login });
  assert.equal((read.json as { jwtLifeSpan: number }).jwtLifeSpan, 30);
  const logout = await curl(url('/api/v1/sa/logout'), { token: login });
  assert.equal(logout.status, 200);
  const after = await curl(url('/api/v1/sa/globalconfig'), { token: login });
  assert.equal(after.status, 401);
  assert.equal((after.json as { error: string }).error, 'token_revoked');
  // The audit trail names who did it.
  const audit = await curl(url('/api/v1/sa/audit?limit=1000'), { token });
  const entries = (audit.json as { items: { actor: string; type: string; target: string }[] }).items;
  assert.ok(entries.some((e) => e.actor === `sa:${SA_NAME}` && e.type === 'settings.update' && e.target === 'settings jwtLifeSpan,metricsAllowList'), audit.body);
  assert.ok(!audit.body.includes('argon2id'), 'no password hash in the audit trail');
});

test('wrong credentials and malformed Basic headers get 401 with a Basic challenge, never a crash', async () => {
  const wrong = await curl(url('/api/v1/sa/login'), { basic: `${SA_NAME}:wrong password` });
  assert.equal(wrong.status, 401);
  const unknown = await curl(url('/api/v1/sa/login'), { basic: `nobody:${SA_PASSWORD}` });
  assert.equal(unknown.status, 401);
  assert.equal((unknown.json as { message: string }).message, (wrong.json as { message: string }).message, 'unknown names and wrong passwords look alike');
  for (const header of ['Basic', 'Basic !!!', 'Basic ' + Buffer.from('no-colon').toString('base64'), 'Bearer x', 'Basic ' + 'A'.repeat(20_000)]) {
    const bad = await curl(url('/api/v1/sa/login'), { headers: { Authorization: header } });
    assert.ok(bad.status === 401 || bad.status === 431, `${header.slice(0, 20)}: ${bad.status}`);
  }
  // An Admin login with SuperAdmin credentials is refused: the roles are separate accounts.
  const asAdmin = await curl(url('/api/v1/adm/login'), { basic: `${SA_NAME}:${SA_PASSWORD}` });
  assert.equal(asAdmin.status, 401);
});

test('schema-invalid bodies get 400 naming the field, and change nothing', async () => {
  const before = await curl(url('/api/v1/sa/globalconfig'), { token });
  const cases: [unknown, string][] = [
    [{ jwtLifeSpan: 'x' }, 'body.jwtLifeSpan'],
    [{ jwtLifeSpan: 0 }, 'body.jwtLifeSpan'],
    [{ serverName: 'ok', unknownField: 1 }, 'body.unknownField'],
    [{ metricsAllowList: ['not an address'] }, 'body.metricsAllowList[0]'],
    [[1, 2], 'body'],
  ];
  for (const [body, field] of cases) {
    const answer = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, json: body });
    assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${answer.body}`);
    const errors = (answer.json as { error: string; errors: { path: string; message: string }[] }).errors;
    assert.ok(errors.some((e) => e.path === field), `${JSON.stringify(body)}: ${answer.body}`);
  }
  const after = await curl(url('/api/v1/sa/globalconfig'), { token });
  assert.equal(after.body, before.body);
});

test('hostile bodies (huge, deep, not JSON, prototype poisoning, wrong type) get a clear 4xx and the node keeps serving', async () => {
  const huge = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, data: JSON.stringify({ serverName: 'x'.repeat(2 * 1024 * 1024) }) });
  assert.equal(huge.status, 413);
  const deep = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, data: '['.repeat(100_000) + ']'.repeat(100_000) });
  assert.equal(deep.status, 400);
  const notJson = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, data: '{"serverName": ' });
  assert.equal(notJson.status, 400);
  const poisoned = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, data: '{"__proto__": {"admin": true}}' });
  assert.equal(poisoned.status, 400);
  const xml = await curl(url('/api/v1/sa/globalconfig'), { method: 'PATCH', token, data: '<a/>', contentType: 'application/xml' });
  assert.equal(xml.status, 415);
  const status = await curl(url('/api/v1/sa/status'), { token });
  assert.equal(status.status, 200);
  assert.equal((status.json as { sites: { id: string }[] }).sites[0]?.id, 'default');
});

test('an expired token and a token signed by another key are refused with 401', async () => {
  const now = Math.floor(Date.now() / 1000);
  const expired = forgeToken(node.dataDir, { role: 'sa', sub: SA_NAME, jti: 'expiredtoken1', iat: now - 7200, exp: now - 3600 });
  const answer = await curl(url('/api/v1/sa/status'), { token: expired });
  assert.equal(answer.status, 401);
  assert.equal((answer.json as { error: string }).error, 'token_expired');
  const [head, , sig] = token.split('.');
  const tampered = `${head}.${Buffer.from(JSON.stringify({ role: 'sa', sub: 'someone', jti: 'x', iat: now, exp: now + 600 })).toString('base64url')}.${sig}`;
  assert.equal((await curl(url('/api/v1/sa/status'), { token: tampered })).status, 401);
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ role: 'sa', sub: SA_NAME, jti: 'y', iat: now, exp: now + 600 })).toString('base64url')}.`;
  assert.equal((await curl(url('/api/v1/sa/status'), { token: none })).status, 401);
});

test('the OpenAPI document validates as OpenAPI 3', async () => {
  const doc = await curl(url('/api/v1/openapi.json'));
  assert.equal(doc.status, 200);
  const validator = new Validator();
  const result = await validator.validate(doc.json as Parameters<Validator['validate']>[0]);
  assert.ok(result.valid, JSON.stringify(result.errors));
  const paths = Object.keys((doc.json as { paths: object }).paths);
  for (const route of ['/api/v1/sa/login', '/api/v1/adm/login', '/api/v1/sa/logout', '/api/v1/setup', '/api/v1/sa/globalconfig', '/api/v1/sa/status', '/api/v1/sa/audit']) {
    assert.ok(paths.includes(route), `${route} is in the document`);
  }
});

test('fail closed: every documented route refuses no token, an expired token and a revoked token', async () => {
  const doc = (await curl(url('/api/v1/openapi.json'))).json as { paths: Record<string, Record<string, unknown>> };
  const now = Math.floor(Date.now() / 1000);
  const expired = forgeToken(node.dataDir, { role: 'sa', sub: SA_NAME, jti: 'expiredtoken2', iat: now - 7200, exp: now - 3600 });
  const revoked = await loginSuperAdmin(node);
  assert.equal((await curl(url('/api/v1/sa/logout'), { token: revoked })).status, 200);
  const open = new Set(['/api/v1/sa/login', '/api/v1/adm/login', '/api/v1/setup']);
  let walked = 0;
  for (const [route, methods] of Object.entries(doc.paths)) {
    if (open.has(route)) continue;
    const concrete = route.replace(/\{[^}]+\}/g, 'default');
    for (const method of Object.keys(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      for (const [label, bearer] of [['no token', undefined], ['expired', expired], ['revoked', revoked]] as const) {
        const answer = await curl(url(concrete), { method: method.toUpperCase(), ...(bearer === undefined ? {} : { token: bearer }), ...(method === 'get' || method === 'delete' ? {} : { json: {} }) });
        assert.equal(answer.status, 401, `${method.toUpperCase()} ${concrete} with ${label}: ${answer.status} ${answer.body}`);
      }
      walked++;
    }
  }
  assert.ok(walked >= 4, `walked ${walked} routes`);
  // Setup without its code is refused too.
  const setup = await curl(url('/api/v1/setup'), { method: 'POST', json: { code: 'AAAA-BBBB-CCCC', superadmin: { name: 'x', password: 'a long enough password' }, cluster: { mode: 'new' } } });
  assert.ok(setup.status === 410 || setup.status === 401);
});

test('sapassreset sets a new password and ends the sessions of the old one; disable2fa answers for a SuperAdmin without 2FA', async () => {
  const old = await loginSuperAdmin(node);
  const reset = await runFerry(['sapassreset', '-s', SA_NAME, '-p', 'an even longer new password', '--data', node.dataDir]);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /password of SuperAdmin "root" reset/);
  assert.equal((await curl(url('/api/v1/sa/status'), { token: old })).status, 401, 'a token from before the reset is refused');
  const fresh = await loginSuperAdmin(node, `${SA_NAME}:an even longer new password`);
  assert.equal((await curl(url('/api/v1/sa/status'), { token: fresh })).status, 200);
  const short = await runFerry(['sapassreset', '-s', SA_NAME, '-p', 'short', '--data', node.dataDir]);
  assert.notEqual(short.code, 0);
  assert.match(short.stderr, /at least 10 characters/);
  const missing = await runFerry(['sapassreset', '-s', 'ghost', '-p', 'whatever long', '--data', node.dataDir]);
  assert.match(missing.stderr, /no SuperAdmin 'ghost'/);
  const twofa = await runFerry(['disable2fa', '-s', SA_NAME, '--data', node.dataDir]);
  assert.equal(twofa.code, 0, twofa.stderr);
  assert.match(twofa.stdout, /had no 2FA; nothing changed/);
  const back = await runFerry(['sapassreset', '-s', SA_NAME, '-p', SA_PASSWORD, '--data', node.dataDir]);
  assert.equal(back.code, 0, back.stderr);
  token = await loginSuperAdmin(node);
});
