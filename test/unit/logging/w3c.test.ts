import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { TransferRecord } from '../../../src/logging/transfer-log.ts';
import { W3C_FIELDS, formatW3cLine, openW3cTransferLog, w3cField } from '../../../src/logging/w3c.ts';

const record = (over: Partial<TransferRecord> = {}): TransferRecord => ({
  time: new Date('2026-03-04T23:59:58.250Z'),
  siteId: 'default',
  connectionId: 'c1',
  remoteAddress: '192.0.2.7',
  remotePort: 50022,
  username: 'alice',
  protocol: 'ssh2_sftp',
  operation: 'upload',
  path: '/in/report.csv',
  bytes: 1234,
  durationMs: 1500,
  status: 'ok',
  ...over,
});

test('a record becomes one line of space-separated fields in UTC, in the declared field order', () => {
  const line = formatW3cLine(record());
  assert.equal(line, '2026-03-04 23:59:58 192.0.2.7 50022 alice ssh2_sftp c1 upload /in/report.csv - 1234 1.500 ok');
  assert.equal(line.split(' ').length, W3C_FIELDS.length);
});

test('a value with spaces, quotes or control characters is quoted so it cannot split or forge a line', () => {
  assert.equal(w3cField('/my file.txt'), '"/my file.txt"');
  assert.equal(w3cField('say "hi"'), '"say ""hi"""');
  const forged = formatW3cLine(record({ path: '/x\n2026-01-01 00:00:00 evil' }));
  assert.ok(!forged.includes('\n'));
  assert.match(forged, /"\/x\\x0a2026-01-01 00:00:00 evil"/);
  assert.equal(w3cField(''), '-');
  assert.equal(w3cField(undefined), '-');
  assert.equal(w3cField('/ünïcode'), '"/ünïcode"');
});

test('each site gets its own file per UTC day, each starting with the W3C directives', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-w3c-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = openW3cTransferLog({ dir, software: 'Ferry test' });
  log.write(record());
  log.write(record({ time: new Date('2026-03-05T00:00:01Z'), operation: 'download' }));
  log.write(record({ siteId: 'partners', username: 'bob' }));
  await log.close();

  assert.deepEqual(readdirSync(path.join(dir, 'default')).sort(), ['ex20260304.log', 'ex20260305.log']);
  const first = readFileSync(path.join(dir, 'default', 'ex20260304.log'), 'utf8').split('\n');
  assert.equal(first[0], '#Software: Ferry test');
  assert.equal(first[1], '#Version: 1.0');
  assert.equal(first[2], '#Date: 2026-03-04 23:59:58');
  assert.equal(first[3], `#Fields: ${W3C_FIELDS.join(' ')}`);
  assert.match(first[4] ?? '', / upload \/in\/report\.csv /);
  assert.match(readFileSync(path.join(dir, 'default', 'ex20260305.log'), 'utf8'), / download /);
  assert.match(readFileSync(path.join(dir, 'partners', 'ex20260304.log'), 'utf8'), / bob /);
});

test('a transfer still open in the journal when the process died is logged incomplete at the next open, once', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-w3c-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const journal = path.join(dir, 'open-transfers.journal');
  const { bytes: _b, durationMs: _d, status: _s, ...opened } = record();
  const crashed = openW3cTransferLog({ dir, software: 'Ferry test', journal });
  assert.equal(crashed.recovered, 0);
  crashed.begin!({ ...opened, path: '/cut-off.bin' });
  const finished = crashed.begin!({ ...opened, path: '/finished.bin' });
  crashed.write(record({ path: '/finished.bin' }));
  finished();
  // As SIGKILL leaves it: no close, and a last line torn in the middle.
  appendFileSync(journal, '+zz {"time":"2026-');

  const next = openW3cTransferLog({ dir, software: 'Ferry test', journal });
  assert.equal(next.recovered, 1);
  await next.close();
  const again = openW3cTransferLog({ dir, software: 'Ferry test', journal });
  assert.equal(again.recovered, 0, 'recovered lines are not logged twice');
  await again.close();
  const lines = readFileSync(path.join(dir, 'default', 'ex20260304.log'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.deepEqual(
    lines.map((l) => l.split(' ').slice(8).join(' ')),
    ['/finished.bin - 1234 1.500 ok', '/cut-off.bin - - - incomplete'],
  );
});
