import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bannerText, displayAddress, expandVariables, identComment, unknownVariables } from '../../../../src/protocols/ssh/variables.ts';

const ctx = {
  serverName: 'ferry-1',
  siteName: 'Default site',
  siteId: 'default',
  remoteAddress: '::ffff:192.0.2.7',
  remotePort: 50123,
  localAddress: '127.0.0.1',
  localPort: 2222,
  connectionId: 'c1',
  now: Date.UTC(2026, 10, 25, 6, 5, 9),
};

describe('greeting variables', () => {
  it('expands server, site, address and UTC date/time variables', () => {
    const text = expandVariables('{{server_name}}/{{site_name}}/{{site_id}} {{remote_ip}}:{{remote_port}} -> {{local_ip}}:{{local_port}} {{date_utc}} {{time_utc}} {{today_utc}}', ctx);
    assert.equal(text, 'ferry-1/Default site/default 192.0.2.7:50123 -> 127.0.0.1:2222 2026-11-25 06:05:09 20261125');
  });

  it('expands local {{date}} and {{time}} in the documented formats', () => {
    assert.match(expandVariables('{{date}} {{time}} {{today}}', ctx), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \d{8}$/);
  });

  it('tolerates spaces inside braces and leaves unknown names as written', () => {
    assert.equal(expandVariables('{{ site_id }} {{nope}} {{', ctx), 'default {{nope}} {{');
    assert.deepEqual(unknownVariables('{{nope}} {{site_id}} {{also_bad}}'), ['nope', 'also_bad']);
  });

  it('shows IPv4-mapped IPv6 addresses as IPv4 and keeps real IPv6', () => {
    assert.equal(displayAddress('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(displayAddress('2001:db8::1'), '2001:db8::1');
  });

  it('keeps the identification comment on one printable ASCII line within its limit', () => {
    assert.equal(identComment('Hello\r\nSSH-2.0-evil\u0000 ünïcode', 200), 'Hello SSH-2.0-evil n code');
    assert.equal(identComment('x'.repeat(400), 239).length, 239);
  });

  it('gives banners CRLF line ends and strips terminal escapes', () => {
    assert.equal(bannerText('line1\nline2\r\n\u001b[31mred\u0007'), 'line1\r\nline2\r\n[31mred');
    assert.equal(bannerText('  \n '), '');
  });
});
