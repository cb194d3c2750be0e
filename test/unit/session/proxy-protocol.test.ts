import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HEADER, V2_SIGNATURE, parseProxyHeader } from '../../../src/session/proxy-protocol.ts';

function v2(command: number, familyTransport: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = familyTransport;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

function v4Body(src: number[], dst: number[], sport: number, dport: number, tlv = Buffer.alloc(0)): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return Buffer.concat([Buffer.from(src), Buffer.from(dst), ports, tlv]);
}

describe('PROXY protocol v1', () => {
  it('reads a TCP4 and a TCP6 header and says where the client\'s bytes begin', () => {
    const data = Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51234 22\r\nSSH-2.0-OpenSSH_9.2\r\n');
    const parsed = parseProxyHeader(data);
    assert.deepEqual(parsed, { status: 'ok', length: 42, header: { command: 'proxy', source: { address: '203.0.113.7', port: 51234 }, destination: { address: '10.0.0.1', port: 22 } } });
    assert.equal(data.subarray(42).toString(), 'SSH-2.0-OpenSSH_9.2\r\n');
    const six = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 4000 2222\r\n'));
    assert.ok(six.status === 'ok' && six.header.command === 'proxy' && six.header.source.address === '2001:db8::7');
  });

  it('UNKNOWN leaves the connection its own address', () => {
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { status: 'ok', length: 15, header: { command: 'local' } });
  });

  it('waits for the rest of a header split across segments', () => {
    for (const part of ['', 'P', 'PROXY', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2']) assert.deepEqual(parseProxyHeader(Buffer.from(part)), { status: 'incomplete' });
  });

  it('refuses malformed headers', () => {
    for (const bad of [
      'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
      'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
      'SSH-2.0-OpenSSH_9.2\r\n',
      'GET / HTTP/1.1\r\n',
    ]) assert.equal(parseProxyHeader(Buffer.from(bad)).status, 'invalid', bad);
  });
});

describe('PROXY protocol v2', () => {
  it('reads TCP over IPv4 and IPv6, skipping TLVs', () => {
    const tlv = Buffer.from([0x04, 0x00, 0x02, 0xab, 0xcd]);
    const data = Buffer.concat([v2(1, 0x11, v4Body([198, 51, 100, 9], [10, 0, 0, 1], 40000, 22, tlv)), Buffer.from('SSH-2.0-x\r\n')]);
    const parsed = parseProxyHeader(data);
    assert.deepEqual(parsed, { status: 'ok', length: 16 + 12 + 5, header: { command: 'proxy', source: { address: '198.51.100.9', port: 40000 }, destination: { address: '10.0.0.1', port: 22 } } });
    const src = Buffer.from('20010db8000000000000000000000007', 'hex');
    const dst = Buffer.from('20010db8000000000000000000000001', 'hex');
    const ports = Buffer.from([0x1f, 0x40, 0x08, 0xae]);
    const six = parseProxyHeader(v2(1, 0x21, Buffer.concat([src, dst, ports])));
    assert.ok(six.status === 'ok' && six.header.command === 'proxy');
    assert.deepEqual(six.header.source, { address: '2001:db8::7', port: 8000 });
  });

  it('LOCAL (a balancer\'s health check) and non-TCP families leave the connection its own address', () => {
    assert.deepEqual(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))), { status: 'ok', length: 16, header: { command: 'local' } });
    assert.deepEqual(parseProxyHeader(v2(1, 0x31, Buffer.alloc(216))), { status: 'ok', length: 232, header: { command: 'local' } });
  });

  it('waits for a whole header, and refuses a bad version, command, short addresses or an oversized header', () => {
    const whole = v2(1, 0x11, v4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    for (let n = 1; n < whole.length; n++) assert.deepEqual(parseProxyHeader(whole.subarray(0, n)), { status: 'incomplete' }, `${n} bytes`);
    const badVersion = Buffer.from(whole);
    badVersion[12] = 0x11;
    assert.equal(parseProxyHeader(badVersion).status, 'invalid');
    const badCommand = Buffer.from(whole);
    badCommand[12] = 0x22;
    assert.equal(parseProxyHeader(badCommand).status, 'invalid');
    assert.equal(parseProxyHeader(v2(1, 0x11, Buffer.alloc(8))).status, 'invalid');
    assert.equal(parseProxyHeader(v2(1, 0x21, Buffer.alloc(20))).status, 'invalid');
    const huge = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    const parsed = parseProxyHeader(huge);
    assert.ok(parsed.status === 'invalid' && parsed.reason.includes(String(MAX_HEADER)));
  });
});
