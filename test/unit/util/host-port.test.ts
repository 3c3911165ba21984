/**
 * Static device addresses as an operator writes them (`trust add SKI --address`, the config's
 * `peers`): what is accepted, and what is refused with a reason.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseStaticAddress } from '../../../src/util/host-port.js';

describe('parseStaticAddress', () => {
  it('accepts host names, IPv4 and bracketed IPv6 with a port, and an optional path', () => {
    assert.deepEqual(parseStaticAddress('192.168.1.20:4712'), {
      host: '192.168.1.20',
      port: 4712,
      path: undefined,
    });
    assert.deepEqual(parseStaticAddress('wallbox.lan:4815'), {
      host: 'wallbox.lan',
      port: 4815,
      path: undefined,
    });
    assert.deepEqual(parseStaticAddress('[fd00::12]:4712/ship/'), {
      host: 'fd00::12',
      port: 4712,
      path: '/ship/',
    });
    assert.deepEqual(parseStaticAddress('[fe80::1%eth0]:4712'), {
      host: 'fe80::1%eth0',
      port: 4712,
      path: undefined,
    });
  });

  it('refuses what is not HOST:PORT, with the reason', () => {
    for (const bad of ['192.168.1.20', 'fd00::12:4712', 'host:', ':4712', 'a b:1', 'host:4712 x']) {
      const result = parseStaticAddress(bad);
      assert.equal(typeof result, 'string', bad);
      assert.match(result as string, /HOST:PORT/, bad);
    }
    assert.match(parseStaticAddress('host:0') as string, /between 1 and 65535/);
    assert.match(parseStaticAddress('host:70000') as string, /between 1 and 65535/);
    assert.match(parseStaticAddress('-host:4712') as string, /not a host name/);
  });
});
