import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import {
  attributeSource,
  identitySignature,
  usableInterfaces,
  validateInterfaceNames,
} from '../../../src/mdns/interfaces.js';
import { ConfigError } from '../../../src/ship/errors.js';

function v4(address: string, prefix: number, internal = false): NetworkInterfaceInfo {
  return {
    address,
    netmask: '',
    family: 'IPv4',
    mac: '00:00:00:00:00:00',
    internal,
    cidr: `${address}/${prefix}`,
  };
}
function v6(address: string, prefix: number, scopeid = 0): NetworkInterfaceInfo {
  return {
    address,
    netmask: '',
    family: 'IPv6',
    mac: '00:00:00:00:00:00',
    internal: false,
    cidr: `${address}/${prefix}`,
    scopeid,
  };
}

const TABLE = {
  lo: [v4('127.0.0.1', 8, true)],
  eth0: [v4('192.168.1.10', 24), v6('fd00:1::10', 64), v6('fe80::10', 64, 2)],
  wlan0: [v4('10.0.0.5', 16)],
  docker0: [v4('172.17.0.1', 16)],
};
const source = () => TABLE;
const indexes: Record<string, number> = { lo: 1, eth0: 2, wlan0: 3, docker0: 4 };
const indexOf = (name: string) => indexes[name];

describe('interfaces', () => {
  it('validates configured names with a clear error', () => {
    assert.deepEqual(validateInterfaceNames(['eth0', 'eth0'], source), ['eth0']);
    assert.throws(
      () => validateInterfaceNames(['eth0', 'veth1@if5', 'wlp2s0'], source),
      (error: unknown) =>
        error instanceof ConfigError &&
        /unknown network interfaces "veth1@if5", "wlp2s0"; this host has "lo", "eth0"/.test(
          error.message,
        ),
    );
  });

  it('uses every non-internal interface without restriction, only the named ones with', () => {
    assert.deepEqual(
      usableInterfaces(undefined, source, indexOf).map((i) => i.name),
      ['eth0', 'wlan0', 'docker0'],
    );
    const restricted = usableInterfaces(['wlan0', 'lo', 'gone0'], source, indexOf);
    assert.deepEqual(
      restricted.map((i) => i.name),
      ['wlan0', 'lo'],
    );
    assert.equal(restricted[0]!.ipv4.length, 1);
    assert.equal(identitySignature(restricted), 'lo#1,wlan0#3');
  });

  it('attributes a source address to its interface', () => {
    const allowed = new Set(['eth0', 'wlan0']);
    assert.equal(attributeSource('192.168.1.77', allowed, 'x', source), 'eth0');
    assert.equal(attributeSource('10.0.200.1', allowed, 'x', source), 'wlan0');
    assert.equal(attributeSource('fd00:1::99', allowed, 'x', source), 'eth0');
    assert.equal(attributeSource('fe80::99%wlan0', allowed, 'x', source), 'wlan0');
    // On an interface we must not use: dropped.
    assert.equal(attributeSource('172.17.0.2', allowed, 'x', source), undefined);
    assert.equal(attributeSource('fe80::99%docker0', allowed, 'x', source), undefined);
    // No subnet matches: the receiving socket's interface.
    assert.equal(attributeSource('100.64.0.1', allowed, 'eth0', source), 'eth0');
    assert.equal(attributeSource('not-an-ip', allowed, 'eth0', source), undefined);
  });
});
