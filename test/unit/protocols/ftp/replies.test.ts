import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_KINDS, FerryError } from '../../../../src/session/errors.ts';
import { REPLY_BY_KIND, formatReply, quotePath, replyForError } from '../../../../src/protocols/ftp/replies.ts';
import { formatFacts, formatTimeVal, parseEprtArgument, parsePortArgument, parseTimeVal, pasvAddress } from '../../../../src/protocols/ftp/facts.ts';

describe('FTP replies', () => {
  it('formats a one-line reply with CRLF', () => {
    assert.equal(formatReply(200, 'NOOP ok'), '200 NOOP ok\r\n');
  });

  it('formats a multi-line reply with code-dash first and code-space last, indenting lines that start with digits', () => {
    assert.equal(formatReply(211, ['Features:', ' UTF8', '226 fake', 'End']), '211-Features:\r\n UTF8\r\n 226 fake\r\n211 End\r\n');
  });

  it('never lets a CR or LF in a name start a forged reply line', () => {
    const text = formatReply(550, 'No such file: a\r\n230 Login successful');
    assert.equal(text.split('\r\n').length, 2);
    assert.ok(!/\r\n230 /.test(text));
  });

  it('quotes a path for 257 with embedded quotes doubled', () => {
    assert.equal(quotePath('/a "b"'), '"/a ""b"""');
  });

  it('maps every error kind to a 4xx or 5xx code, and unknown errors to 451 without their message', () => {
    for (const kind of ERROR_KINDS) {
      const row = REPLY_BY_KIND[kind];
      assert.ok(row && row.code >= 400 && row.code < 600, kind);
    }
    assert.deepEqual(replyForError(new FerryError('not-found', 'no such file')), { code: 550, message: 'no such file', known: true });
    assert.equal(replyForError(new FerryError('quota-exceeded', '')).code, 552);
    const unknown = replyForError(new Error('secret /srv/path'));
    assert.equal(unknown.code, 451);
    assert.ok(!unknown.message.includes('/srv'));
  });
});

describe('FTP facts and addresses', () => {
  it('formats and parses RFC 3659 times in UTC and refuses impossible dates', () => {
    const ms = Date.UTC(2026, 1, 3, 4, 5, 6);
    assert.equal(formatTimeVal(ms), '20260203040506');
    assert.equal(parseTimeVal('20260203040506'), ms);
    assert.equal(parseTimeVal('20260203040506.5'), ms + 500);
    assert.equal(parseTimeVal('20260231000000'), undefined);
    assert.equal(parseTimeVal('2026'), undefined);
  });

  it('writes MLSD facts for files and directories', () => {
    const base = { mode: 0o100644, mtimeMs: Date.UTC(2026, 0, 1), atimeMs: 0, size: 12 };
    assert.equal(formatFacts({ ...base, name: 'a b', type: 'file' }, 'a b'), 'type=file;size=12;modify=20260101000000;UNIX.mode=0644; a b');
    assert.equal(formatFacts({ ...base, mode: 0o40755, name: 'd', type: 'dir' }, 'd'), 'type=dir;modify=20260101000000;UNIX.mode=0755; d');
  });

  it('parses PORT and EPRT and refuses malformed ones', () => {
    assert.deepEqual(parsePortArgument('127,0,0,1,195,80'), { host: '127.0.0.1', port: 50000 });
    assert.equal(parsePortArgument('127,0,0,1,300,1'), undefined);
    assert.equal(parsePortArgument('127,0,0,1,1'), undefined);
    assert.deepEqual(parseEprtArgument('|1|127.0.0.1|6275|'), { host: '127.0.0.1', port: 6275 });
    assert.deepEqual(parseEprtArgument('|2|::1|6275|'), { host: '::1', port: 6275 });
    assert.equal(parseEprtArgument('|1|::1|6275|'), undefined);
    assert.equal(parseEprtArgument('|3|x|1|'), undefined);
    assert.equal(parseEprtArgument('|1|127.0.0.1|99999|'), undefined);
  });

  it('writes the 227 address for IPv4 (also IPv4-mapped) and refuses IPv6', () => {
    assert.equal(pasvAddress('::ffff:10.1.2.3', 50001), '10,1,2,3,195,81');
    assert.equal(pasvAddress('::1', 1), undefined);
  });
});
