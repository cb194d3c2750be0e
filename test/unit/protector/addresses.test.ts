import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressSet, addressText, contains, parseAddress, parseNetwork, strikeKey } from '../../../src/protector/addresses.ts';

function net(text: string) {
  const parsed = parseNetwork(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return parsed.network;
}

function addr(text: string) {
  const parsed = parseAddress(text);
  assert.ok(parsed, text);
  return parsed;
}

describe('list entries', () => {
  it('accepts an address, CIDR and a dotted mask, and writes them canonically', () => {
    assert.equal(net('192.168.1.35').text, '192.168.1.35');
    assert.equal(net('10.23.5.0/24').text, '10.23.5.0/24');
    assert.equal(net('10.23.5.0/255.255.255.0').text, '10.23.5.0/24');
    assert.equal(net(' 2001:DB8:0:0::/32 ').text, '2001:db8::/32');
    assert.equal(net('::ffff:10.1.2.3').text, '10.1.2.3');
    assert.equal(net('::ffff:10.1.0.0/112').text, '10.1.0.0/16');
    assert.equal(net('0.0.0.0/0').text, '0.0.0.0/0');
  });

  it('refuses what is no address or network, saying why', () => {
    for (const bad of ['', 'example.com', '1.2.3', '1.2.3.256', '010.1.1.1', '1.2.3.4/33', '1.2.3.0/255.0.255.0', '2001:db8::/129', 'fe80::1%eth0', '1.2.3.4/abc']) {
      const parsed = parseNetwork(bad);
      assert.equal(parsed.ok, false, bad);
    }
    const mask = parseNetwork('1.2.3.0/255.0.255.0');
    assert.ok(!mask.ok && /not contiguous/.test(mask.error));
  });

  it('refuses host bits under the mask and names the network meant', () => {
    const parsed = parseNetwork('10.23.5.7/24');
    assert.ok(!parsed.ok);
    assert.match(parsed.error, /did you mean 10\.23\.5\.0\/24/);
    const v6 = parseNetwork('2001:db8::1/64');
    assert.ok(!v6.ok && /did you mean 2001:db8::\/64/.test(v6.error));
  });
});

describe('matching', () => {
  it('matches networks of the same family only, IPv4-mapped addresses as IPv4', () => {
    assert.ok(contains(net('10.23.5.0/255.255.255.0'), addr('10.23.5.200')));
    assert.ok(!contains(net('10.23.5.0/24'), addr('10.23.6.1')));
    assert.ok(contains(net('10.23.5.0/24'), addr('::ffff:10.23.5.9')));
    assert.ok(contains(net('2001:db8::/32'), addr('2001:db8:ffff::1')));
    assert.ok(!contains(net('2001:db8::/32'), addr('10.0.0.1')));
    assert.ok(contains(net('0.0.0.0/0'), addr('255.255.255.255')));
    assert.ok(contains(net('::/0'), addr('::1')));
  });

  it('an AddressSet yields the exact entry first, then networks in list order', () => {
    const set = new AddressSet([
      { network: net('10.0.0.0/8'), value: 'wide' },
      { network: net('10.1.0.0/16'), value: 'narrow' },
      { network: net('10.1.2.3'), value: 'exact' },
      { network: net('2001:db8::/48'), value: 'v6' },
    ]);
    assert.deepEqual([...set.matches(addr('10.1.2.3'))], ['exact', 'wide', 'narrow']);
    assert.deepEqual([...set.matches(addr('10.2.0.1'))], ['wide']);
    assert.deepEqual([...set.matches(addr('192.168.0.1'))], []);
    assert.deepEqual([...set.matches(addr('2001:db8:0:1::5'))], ['v6']);
    assert.equal(set.size, 4);
  });

  it('strikes count per IPv4 address and per IPv6 /64', () => {
    assert.equal(strikeKey(addr('127.0.0.2')), '127.0.0.2');
    assert.equal(strikeKey(addr('::ffff:127.0.0.2')), '127.0.0.2');
    assert.equal(strikeKey(addr('2001:db8:1:2:aaaa::1')), '2001:db8:1:2::/64');
    assert.equal(strikeKey(addr('2001:db8:1:2:bbbb::9')), '2001:db8:1:2::/64');
    assert.equal(addressText(addr('2001:db8::1')), '2001:db8::1');
    assert.equal(parseAddress('not an address'), undefined);
  });
});
