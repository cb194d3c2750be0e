// SuperAdmins and Admins through the admin API with curl: an Admin reaches only its own sites,
// a password change ends old tokens, and TOTP enrol -> confirm -> login needs the code, which
// is accepted once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { totpCode } from '../../../src/auth/totp.ts';
import { adminUrl, curl, setUpSuperAdmin } from '../../helpers/admin-api.ts';
import { startFerryNode } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

let node: RunningNode;
let token: string;
const url = (route: string) => adminUrl(node, route);

before(async () => {
  node = await startFerryNode();
  token = await setUpSuperAdmin(node);
});

after(async () => {
  await node.stop();
});

test('an Admin given site A gets 200 on A and 403 on site B; passwords are write-only and a new one ends old tokens', async () => {
  const site = await curl(url('/api/v1/sa/vsites'), { method: 'POST', token, json: { id: 'siteb' } });
  assert.equal(site.status, 201, site.body);
  const short = await curl(url('/api/v1/sa/admins'), { method: 'POST', token, json: { name: 'ann', password: 'short', sites: ['default'] } });
  assert.equal(short.status, 400);
  assert.match(short.body, /body\.password/);
  const created = await curl(url('/api/v1/sa/admins'), { method: 'POST', token, json: { name: 'ann', password: 'ann password 1', sites: ['default'] } });
  assert.equal(created.status, 201, created.body);
  assert.deepEqual(created.json, { name: 'ann', enabled: true, description: '', sites: ['default'], totpEnabled: false });
  const listed = await curl(url('/api/v1/sa/admins'), { token });
  assert.ok(!listed.body.includes('argon2') && !listed.body.includes('passwordHash'), listed.body);

  const login = await curl(url('/api/v1/adm/login'), { basic: 'ann:ann password 1' });
  assert.equal(login.status, 200, login.body);
  const adm = (login.json as { token: string }).token;
  assert.equal((await curl(url('/api/v1/adm/vsites/default'), { token: adm })).status, 200);
  const other = await curl(url('/api/v1/adm/vsites/siteb'), { token: adm });
  assert.equal(other.status, 403, other.body);
  assert.equal((await curl(url('/api/v1/sa/admins'), { token: adm })).status, 403, 'an Admin is no SuperAdmin');
  // A SuperAdmin token works on every /adm route.
  assert.equal((await curl(url('/api/v1/adm/vsites/siteb'), { token })).status, 200);

  const patched = await curl(url('/api/v1/sa/admins/ann'), { method: 'PATCH', token, json: { password: 'ann password 2', sites: ['default', 'siteb'] } });
  assert.equal(patched.status, 200, patched.body);
  const old = await curl(url('/api/v1/adm/vsites/default'), { token: adm });
  assert.equal(old.status, 401);
  assert.equal((old.json as { error: string }).error, 'token_revoked');
  assert.equal((await curl(url('/api/v1/adm/login'), { basic: 'ann:ann password 1' })).status, 401);
  const again = (await curl(url('/api/v1/adm/login'), { basic: 'ann:ann password 2' })).json as { token: string };
  assert.equal((await curl(url('/api/v1/adm/vsites/siteb'), { token: again.token })).status, 200);
  assert.equal((await curl(url('/api/v1/sa/admins/ann'), { method: 'DELETE', token })).status, 200);
  assert.equal((await curl(url('/api/v1/sa/admins/ann'), { token })).status, 404);
});

test('SuperAdmin TOTP: enrol, confirm with a first code, then login needs X-Ferry-OTP and each code works once', async () => {
  const created = await curl(url('/api/v1/sa/superadmins'), { method: 'POST', token, json: { name: 'sam', password: 'sam password 1', description: 'second' } });
  assert.equal(created.status, 201, created.body);
  const enrol = await curl(url('/api/v1/sa/superadmins/sam/totp'), { method: 'POST', token });
  assert.equal(enrol.status, 200, enrol.body);
  const { uri, qrPng } = enrol.json as { uri: string; qrPng: string };
  assert.match(uri, /^otpauth:\/\/totp\//);
  assert.deepEqual([...Buffer.from(qrPng, 'base64').subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
  const secret = new URL(uri).searchParams.get('secret') as string;
  // Not on before the confirmation: the password alone still logs in.
  assert.equal((await curl(url('/api/v1/sa/login'), { basic: 'sam:sam password 1' })).status, 200);
  const wrong = await curl(url('/api/v1/sa/superadmins/sam/totp/confirm'), { method: 'POST', token, json: { code: '000000' === totpCode(secret) ? '111111' : '000000' } });
  assert.equal(wrong.status, 400);
  const first = totpCode(secret);
  const confirmed = await curl(url('/api/v1/sa/superadmins/sam/totp/confirm'), { method: 'POST', token, json: { code: first } });
  assert.equal(confirmed.status, 200, confirmed.body);
  assert.equal(((await curl(url('/api/v1/sa/superadmins/sam'), { token })).json as { totpEnabled: boolean }).totpEnabled, true);

  const noCode = await curl(url('/api/v1/sa/login'), { basic: 'sam:sam password 1' });
  assert.equal(noCode.status, 401);
  assert.equal((noCode.json as { error: string }).error, 'otp_required');
  const reused = await curl(url('/api/v1/sa/login'), { basic: 'sam:sam password 1', headers: { 'X-Ferry-OTP': first } });
  assert.equal(reused.status, 401, 'the confirmation code is spent');
  // The next step's code is inside the accepted drift window: valid now, and once.
  const next = totpCode(secret, Date.now() + 30_000);
  const ok = await curl(url('/api/v1/sa/login'), { basic: 'sam:sam password 1', headers: { 'X-Ferry-OTP': next } });
  assert.equal(ok.status, 200, ok.body);
  const twice = await curl(url('/api/v1/sa/login'), { basic: 'sam:sam password 1', headers: { 'X-Ferry-OTP': next } });
  assert.equal(twice.status, 401, 'the same code is refused a second time');
  assert.ok(!(await curl(url('/api/v1/sa/superadmins'), { token })).body.includes('secretSealed'));

  const off = await curl(url('/api/v1/sa/superadmins/sam/totp'), { method: 'DELETE', token });
  assert.equal(off.status, 200, off.body);
  assert.equal((await curl(url('/api/v1/sa/login'), { basic: 'sam:sam password 1' })).status, 200);
  assert.equal((await curl(url('/api/v1/sa/superadmins/sam'), { method: 'DELETE', token })).status, 200);
});
