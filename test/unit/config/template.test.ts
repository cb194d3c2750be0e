import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandTemplate, templateVariables } from '../../../src/config/template.ts';
import { expandVariables } from '../../../src/protocols/ssh/variables.ts';
import { expandTarget } from '../../../src/vfs/params.ts';

describe('the one template notation', () => {
  it('reads {{name}}, {{ name }} and the legacy [%NAME%] alike', () => {
    assert.deepEqual(
      templateVariables('/a/{{username}}/{{ user_desc }}/[%Today_UTC%]/{{USERNAME}}').map(({ text, name, index }) => [text, name, index]),
      [['{{username}}', 'username', 3], ['{{ user_desc }}', 'user_desc', 16], ['[%Today_UTC%]', 'today_utc', 32], ['{{USERNAME}}', 'USERNAME', 46]],
    );
    assert.equal(expandTemplate('{{a}}-{{ b }}-[%C%]-{{ -[%%]', ({ name }) => name.toUpperCase()), 'A-B-C-{{ -[%%]');
  });

  it('is the notation of VFS targets and of greetings: both stored forms work in both', () => {
    const params = { username: 'alice', userDesc: 'Sales', now: Date.UTC(2026, 2, 4, 12) };
    assert.equal(expandTarget('/srv/{{ username }}/[%USERNAME%]/{{username}}', params), '/srv/alice/alice/alice');
    const ctx = { serverName: 'ferry-1', siteName: 'Default', siteId: 'default', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, connectionId: 'c1', now: Date.UTC(2026, 2, 4, 12) };
    assert.equal(expandVariables('{{server_name}} {{ site_id }} [%SERVER_NAME%] [%today_utc%] {{Server_Name}}', ctx), 'ferry-1 default ferry-1 20260304 {{Server_Name}}');
  });
});
