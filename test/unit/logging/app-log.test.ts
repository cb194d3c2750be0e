import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openAppLog } from '../../../src/logging/app-log.ts';

test('secrets logged by mistake are redacted in the application log file', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-applog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { logger, flush } = openAppLog({ logDir: dir, stderrLevel: 'silent' });
  logger.info({ password: 'hunter2-plain', user: { passwordHash: '$argon2id$secret-hash', name: 'alice' }, privateKeyPem: 'PEM-BODY' }, 'careless call');
  await flush();
  const text = readFileSync(path.join(dir, 'ferry.log'), 'utf8');
  assert.match(text, /careless call/);
  assert.match(text, /"name":"alice"/);
  for (const secret of ['hunter2-plain', 'secret-hash', 'PEM-BODY']) assert.ok(!text.includes(secret), `${secret} leaked`);
});
