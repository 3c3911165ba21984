import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  dialableAddress,
  isIpv6LinkLocal,
  orderAddresses,
  ServiceTable,
} from '../../../src/mdns/service-table.js';
import { buildShipTxt } from '../../../src/mdns/txt.js';
import type { ServiceEvent } from '../../../src/mdns/types.js';
import { toSki } from '../../../src/ship/ski.js';

const SKI = 'b467a3999eb5efa671de0032f08a9c9e5efda0e1';

function txt(register = false, ski = SKI): string[] {
  return buildShipTxt({
    shipId: 'Demo-1',
    ski,
    brand: 'Demo',
    model: 'M',
    type: 'HeatPump',
    register,
  });
}

describe('address helpers', () => {
  it('recognises fe80::/10 only', () => {
    assert.ok(isIpv6LinkLocal('fe80::1'));
    assert.ok(isIpv6LinkLocal('FEBF::1'));
    assert.ok(!isIpv6LinkLocal('fec0::1'));
    assert.ok(!isIpv6LinkLocal('fd00::1'));
  });

  it('zones link-local addresses and drops those without an interface', () => {
    assert.deepEqual(dialableAddress({ address: 'fe80::1', family: 6, interfaceName: 'eth0' }), {
      address: 'fe80::1%eth0',
      family: 6,
      interfaceName: 'eth0',
    });
    assert.equal(dialableAddress({ address: 'fe80::1', family: 6 }), undefined);
    assert.deepEqual(dialableAddress({ address: 'fe80::1%br0', family: 6 }), {
      address: 'fe80::1%br0',
      family: 6,
    });
    assert.deepEqual(dialableAddress({ address: 'fd00::1', family: 6 }), {
      address: 'fd00::1',
      family: 6,
    });
  });

  it('orders IPv4, global IPv6, link-local IPv6 and removes duplicates', () => {
    const ordered = orderAddresses([
      { address: 'fe80::1', family: 6, interfaceName: 'eth0' },
      { address: 'fd00::2', family: 6 },
      { address: '192.168.1.20', family: 4 },
      { address: '10.0.0.1', family: 4 },
      { address: '10.0.0.1', family: 4, interfaceName: 'eth0' },
      { address: 'fe80::9', family: 6 },
    ]);
    assert.deepEqual(
      ordered.map((a) => a.address),
      ['10.0.0.1', '192.168.1.20', 'fd00::2', 'fe80::1%eth0'],
    );
  });
});

describe('ServiceTable', () => {
  function setup(maxServices?: number) {
    const table = new ServiceTable({
      provider: 'avahi',
      ...(maxServices === undefined ? {} : { maxServices }),
    });
    const events: ServiceEvent[] = [];
    table.onService((e) => events.push(e));
    return { table, events };
  }

  it('merges per-interface/protocol observations (Avahi style) into one service', () => {
    const { table, events } = setup();
    table.observe('Demo', '2/0', {
      hostName: 'demo.local.',
      port: 4712,
      txt: txt(),
      addresses: [{ address: '10.0.0.5', family: 4, interfaceName: 'eth0' }],
    });
    table.observe('Demo', '2/1', {
      hostName: 'demo.local.',
      port: 4712,
      txt: txt(),
      addresses: [{ address: 'fe80::5', family: 6, interfaceName: 'eth0' }],
    });
    assert.deepEqual(
      events.map((e) => e.type),
      ['up', 'update'],
    );
    const service = table.services()[0]!;
    assert.equal(service.hostName, 'demo.local');
    assert.equal(service.provider, 'avahi');
    assert.deepEqual(
      service.addresses.map((a) => a.address),
      ['10.0.0.5', 'fe80::5%eth0'],
    );
    // The same observation again changes nothing.
    table.observe('Demo', '2/1', {
      hostName: 'demo.local.',
      port: 4712,
      txt: txt(),
      addresses: [{ address: 'fe80::5', family: 6, interfaceName: 'eth0' }],
    });
    assert.equal(events.length, 2);
    table.forget('Demo', '2/0');
    assert.equal(events.at(-1)!.type, 'update');
    table.forget('Demo', '2/1');
    assert.equal(events.at(-1)!.type, 'down');
    assert.equal(table.services().length, 0);
  });

  it('a service whose only address is an unzoned link-local is not reported', () => {
    const { table, events } = setup();
    table.observe('Demo', 'x', {
      port: 1,
      txt: txt(),
      addresses: [{ address: 'fe80::1', family: 6 }],
    });
    assert.equal(events.length, 0);
  });

  it('the newest TXT wins; an invalid TXT takes the service down', () => {
    const { table, events } = setup();
    const addresses = [{ address: '10.0.0.5', family: 4 as const }];
    table.observe('Demo', 'a', { port: 1, txt: txt(false), addresses });
    table.observe('Demo', 'a', { port: 1, txt: txt(true), addresses });
    assert.equal(events.at(-1)!.service.record.register, true);
    table.observe('Demo', 'a', { port: 1, txt: ['txtvers=1'], addresses });
    assert.equal(events.at(-1)!.type, 'down');
  });

  it('flags our own SKI, also when it is learnt later', () => {
    const { table, events } = setup();
    table.observe('Me', 'a', {
      port: 1,
      txt: txt(),
      addresses: [{ address: '10.0.0.1', family: 4 }],
    });
    assert.equal(events[0]!.service.own, false);
    table.setOwnSki(toSki(SKI));
    assert.equal(events.at(-1)!.type, 'update');
    assert.equal(events.at(-1)!.service.own, true);
  });

  it('bounds the number of tracked services and survives a throwing listener', () => {
    const { table, events } = setup(2);
    table.onService(() => {
      throw new Error('listener bug');
    });
    for (let i = 0; i < 5; i++) {
      table.observe(`S${i}`, 'a', {
        port: 1,
        txt: txt(),
        addresses: [{ address: `10.0.0.${i}`, family: 4 }],
      });
    }
    assert.equal(table.services().length, 2);
    assert.equal(events.length, 2);
    table.clear();
    assert.equal(events.filter((e) => e.type === 'down').length, 2);
  });
});
