import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineReader, parseCommand, stripTelnet } from '../../../../src/protocols/ftp/line-reader.ts';
import type { LineEvent } from '../../../../src/protocols/ftp/line-reader.ts';

const lines = (events: LineEvent[]) => events.map((e) => (e.kind === 'line' ? e.line : '<too-long>'));

describe('FTP line reader', () => {
  it('takes a command split across TCP segments only once its CRLF has arrived', () => {
    const reader = new LineReader();
    assert.deepEqual(lines(reader.push(Buffer.from('US'))), []);
    assert.deepEqual(lines(reader.push(Buffer.from('ER ali'))), []);
    assert.deepEqual(lines(reader.push(Buffer.from('ce\r'))), []);
    assert.deepEqual(lines(reader.push(Buffer.from('\nPASS x\r\nNO'))), ['USER alice', 'PASS x']);
    assert.deepEqual(lines(reader.push(Buffer.from('OP\n'))), ['NOOP']);
  });

  it('splits several pipelined commands in one segment, in order, and accepts bare LF', () => {
    const reader = new LineReader();
    assert.deepEqual(lines(reader.push(Buffer.from('TYPE I\r\nPASV\nRETR a b.txt\r\n'))), ['TYPE I', 'PASV', 'RETR a b.txt']);
  });

  it('reports an over-long line once, drops it up to its end and goes on with the next line', () => {
    const reader = new LineReader(16);
    const events = [...reader.push(Buffer.from('STOR ' + 'x'.repeat(10))), ...reader.push(Buffer.from('y'.repeat(1000))), ...reader.push(Buffer.from('zz\r\nNOOP\r\n'))];
    assert.deepEqual(lines(events), ['<too-long>', 'NOOP']);
    assert.ok(reader.buffered <= 16);
  });

  it('never buffers more than its bound however much arrives without a line end', () => {
    const reader = new LineReader(1024);
    for (let i = 0; i < 100; i++) reader.push(Buffer.alloc(4096, 0x41));
    assert.ok(reader.buffered <= 1024);
  });

  it('discard drops what was received and not yet taken (AUTH TLS)', () => {
    const reader = new LineReader();
    reader.push(Buffer.from('USER injected'));
    reader.discard();
    assert.deepEqual(lines(reader.push(Buffer.from('\r\nUSER alice\r\n'))), ['', 'USER alice']);
  });

  it('decodes UTF-8 names, also when a character is split between segments', () => {
    const reader = new LineReader();
    const bytes = Buffer.from('RETR été.txt\r\n');
    assert.deepEqual(lines([...reader.push(bytes.subarray(0, 7)), ...reader.push(bytes.subarray(7))]), ['RETR été.txt']);
  });

  it('removes Telnet IP/DM before ABOR and keeps an escaped 0xFF', () => {
    assert.deepEqual([...stripTelnet(Buffer.from([0xff, 0xf4, 0xff, 0xf2, 0x41, 0x42]))], [0x41, 0x42]);
    assert.deepEqual([...stripTelnet(Buffer.from([0x41, 0xff, 0xff, 0x42]))], [0x41, 0xff, 0x42]);
    assert.deepEqual([...stripTelnet(Buffer.from([0xff, 0xfb, 0x01, 0x41]))], [0x41]);
    const reader = new LineReader();
    assert.deepEqual(lines(reader.push(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR\r\n')]))), ['ABOR']);
  });

  it('parses the verb case-insensitively and keeps the argument as sent', () => {
    assert.deepEqual(parseCommand('retr  two  spaces '), { verb: 'RETR', arg: ' two  spaces ' });
    assert.deepEqual(parseCommand('noop'), { verb: 'NOOP', arg: '' });
  });
});
