// The neutral `ls -l` line: SFTP's long name and FTP's LIST line are this one format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatListLine } from '../../../src/session/listing.ts';

test('the line has the layout of ls -l as OpenSSH prints it, with a time for recent files and a year for old ones', () => {
  const now = Date.UTC(2026, 10, 24, 12, 0);
  const recent = { name: 'report.csv', type: 'file' as const, size: 1234, mode: 0o640, atimeMs: 0, mtimeMs: Date.UTC(2026, 10, 3, 9, 5) };
  assert.equal(formatListLine(recent, 'alice', now), '-rw-r-----    1 alice    alice        1234 Nov  3 09:05 report.csv');
  const old = { ...recent, name: 'old', type: 'dir' as const, mode: 0o755, size: 4096, mtimeMs: Date.UTC(2020, 0, 15) };
  assert.equal(formatListLine(old, 'a-very-long-user', now), 'drwxr-xr-x    1 a-very-long-user a-very-long-user     4096 Jan 15  2020 old');
});

test('the type letter and the setuid, setgid and sticky bits are shown as ls shows them', () => {
  const base = { name: 'x', size: 0, atimeMs: 0, mtimeMs: 0 };
  assert.match(formatListLine({ ...base, type: 'symlink', mode: 0o777 }, 'u', 0), /^lrwxrwxrwx /);
  assert.match(formatListLine({ ...base, type: 'dir', mode: 0o1777 }, 'u', 0), /^drwxrwxrwt /);
  assert.match(formatListLine({ ...base, type: 'file', mode: 0o6644 }, 'u', 0), /^-rwSr-Sr-- /);
});
