import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScpProtocolError, checkName, formatEntry, formatStatus, formatTimes, parseRecord, parseScpCommand, shellWords, splitWords } from '../../../../src/protocols/ssh/scp-wire.ts';

describe('scp command line', () => {
  it('reads the flags OpenSSH scp -O sends for an upload', () => {
    assert.deepEqual(parseScpCommand("scp -r -p -d -t -- '/in box'"), { mode: 'sink', recursive: true, preserve: true, targetIsDir: true, paths: ['/in box'], globs: [undefined] });
  });

  it('parses modes, combined flags, -- and quoted paths', () => {
    assert.deepEqual(parseScpCommand('scp -t -- /in'), { mode: 'sink', recursive: false, preserve: false, targetIsDir: false, paths: ['/in'], globs: [undefined] });
    assert.deepEqual(parseScpCommand('scp -prf a "b c" \'d e\''), { mode: 'source', recursive: true, preserve: true, targetIsDir: false, paths: ['a', 'b c', 'd e'], globs: [undefined, undefined, undefined] });
    assert.deepEqual(parseScpCommand('scp -v -f -- -dash'), { mode: 'source', recursive: false, preserve: false, targetIsDir: false, paths: ['-dash'], globs: [undefined] });
    assert.deepEqual(parseScpCommand('scp -t'), { mode: 'sink', recursive: false, preserve: false, targetIsDir: false, paths: ['.'], globs: [undefined] });
  });

  it('refuses what is not an scp transfer', () => {
    for (const bad of ['ls -l', 'scp /etc/passwd', 'scp -x -t /', 'scp -t a b', 'scp -t "open', 'scp -t a\nrm -rf /', 'scp -t \\', 'scp -f ' + 'a'.repeat(5000)]) {
      assert.throws(() => parseScpCommand(bad), ScpProtocolError, bad.slice(0, 30));
    }
  });

  it('never interprets shell syntax: metacharacters stay literal', () => {
    assert.deepEqual(splitWords('scp -f $(reboot) `id` a;b *.txt'), ['scp', '-f', '$(reboot)', '`id`', 'a;b', '*.txt']);
    assert.deepEqual(splitWords('a\\ b "x\\"y" \'\\n\''), ['a b', 'x"y', '\\n']);
  });
});

describe('scp records', () => {
  it('parses C, D, E and T records', () => {
    assert.deepEqual(parseRecord('C0644 12 hello.txt'), { type: 'file', mode: 0o644, size: 12, name: 'hello.txt' });
    assert.deepEqual(parseRecord('D0755 0 sub dir'), { type: 'dir', mode: 0o755, name: 'sub dir' });
    assert.deepEqual(parseRecord('E'), { type: 'end' });
    assert.deepEqual(parseRecord('T1700000000 0 1700000001 500000'), { type: 'times', mtimeMs: 1_700_000_000_000, atimeMs: 1_700_000_001_500 });
    assert.deepEqual(parseRecord('\x01scp: oops'), { type: 'warning', message: 'scp: oops' });
  });

  it('refuses names that could leave the target directory', () => {
    for (const name of ['..', '.', '', 'a/b', '../x', 'a\\b', 'nul\0', 'line\rbreak', '/abs']) {
      assert.throws(() => parseRecord(`C0644 1 ${name}`), ScpProtocolError, JSON.stringify(name));
    }
    assert.throws(() => checkName('x'.repeat(256)), /too long/);
  });

  it('refuses hostile sizes, modes and times', () => {
    const bad = [
      'C0644 -1 a', 'C0644 1e9 a', 'C0644 99999999999999999 a', 'C0644 0x10 a', 'C644 1 a', 'C0999 1 a', 'C06440 1 a',
      'T1 0 1', 'T1 1000000 1 0', 'T99999999999999 0 1 0', 'T-1 0 1 0', 'Cnope', 'E extra', 'X junk', 'C0644  1 a',
    ];
    for (const line of bad) assert.throws(() => parseRecord(line), ScpProtocolError, line);
    assert.throws(() => parseRecord('C0644 1 ' + 'a'.repeat(5000)), /too long/);
  });

  it('formats records OpenSSH reads back', () => {
    assert.equal(formatEntry('file', 0o100644, 5, 'a.txt'), 'C0644 5 a.txt\n');
    assert.equal(formatEntry('dir', 0o40755, 0, 'd'), 'D0755 0 d\n');
    assert.equal(formatTimes(1_700_000_000_999, 1_600_000_000_000), 'T1700000000 0 1600000000 0\n');
    assert.equal(formatStatus('warning', 'a\nb'), '\x01scp: a b\n');
    assert.equal(formatStatus('error', 'x')[0], '\x02');
    assert.deepEqual(parseRecord(formatEntry('file', 0o600, 7, 'x').trimEnd()), { type: 'file', mode: 0o600, size: 7, name: 'x' });
  });
});

describe('scp command line wildcards', () => {
  it('marks unquoted wildcards for expansion and keeps quoted or escaped ones literal', () => {
    assert.deepEqual(shellWords(`f* 'g*' h\\? "i[1]" j[ab]'*'`), [
      { text: 'f*', glob: 'f*' },
      { text: 'g*' },
      { text: 'h?' },
      { text: 'i[1]' },
      { text: 'j[ab]*', glob: 'j[ab]\\*' },
    ]);
    assert.deepEqual(parseScpCommand("scp -f tree/a/f* 'x*'").globs, ['tree/a/f*', undefined]);
    assert.deepEqual(parseScpCommand('scp -t in*').globs, [undefined], 'an upload target is never expanded');
  });
});
