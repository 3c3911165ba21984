import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket, { type Answer, type Question } from 'dns-packet';
import {
  DnsSdBrowser,
  GOODBYE_GRACE_MS,
  QUERY_MAX_INTERVAL_MS,
} from '../../../src/mdns/dns-sd-browser.js';
import { ServiceTable } from '../../../src/mdns/service-table.js';
import { buildShipTxt } from '../../../src/mdns/txt.js';
import type { ServiceEvent } from '../../../src/mdns/types.js';
import { toSki } from '../../../src/ship/ski.js';
import { FakeClock } from './fake-clock.js';

const TYPE = '_ship._tcp.local';
const PEER_SKI = 'b1afa2cd890fdb82f118e6b29753d0baaf97d12f';
const OWN_SKI = '264165830e89a16e5b7fc5737f550dab8991b785';
const INSTANCE = 'shipgo-peer-server-b1afa2cd';
const FQDN = `${INSTANCE}.${TYPE}`;

function txt(ski = PEER_SKI, register = true): Buffer[] {
  return buildShipTxt({
    shipId: 'shipgo-peer-server',
    ski,
    brand: 'shipgo-peer',
    model: 'shipgo-peer-server',
    type: 'EnergyManagementSystem',
    register,
    serial: '0001',
    categories: [2],
  }).map((s) => Buffer.from(s));
}

/** The announcement ship-go sent in the vector file, as a real encoded+decoded packet. */
function announcement(
  options: { ttl?: number; txt?: Buffer[]; port?: number; flush?: boolean; instance?: string } = {},
) {
  const ttl = options.ttl ?? 120;
  const fqdn = `${options.instance ?? INSTANCE}.${TYPE}`;
  const flush = options.flush ?? false;
  return decode({
    type: 'response',
    answers: [{ name: TYPE, type: 'PTR', ttl, data: fqdn }],
    additionals: [
      {
        name: fqdn,
        type: 'SRV',
        ttl,
        flush,
        data: { port: options.port ?? 4741, target: 'vm.local' },
      },
      { name: fqdn, type: 'TXT', ttl, flush, data: options.txt ?? txt() },
      { name: 'vm.local', type: 'A', ttl, flush, data: '10.251.7.1' },
      { name: 'vm.local', type: 'AAAA', ttl, flush, data: 'fe80::748a:72ff:fe32:26d8' },
    ],
  });
}

function decode(packet: dnsPacket.Packet): dnsPacket.DecodedPacket {
  return dnsPacket.decode(dnsPacket.encode(packet));
}

interface Harness {
  clock: FakeClock;
  table: ServiceTable;
  browser: DnsSdBrowser;
  events: ServiceEvent[];
  sent: Array<{ questions: Question[]; known: Answer[] }>;
}

function harness(options: { maxCacheEntries?: number } = {}): Harness {
  const clock = new FakeClock();
  const table = new ServiceTable({ provider: 'builtin', ownSki: toSki(OWN_SKI) });
  const events: ServiceEvent[] = [];
  table.onService((event) => events.push(event));
  const sent: Harness['sent'] = [];
  const browser = new DnsSdBrowser({
    serviceType: TYPE,
    clock,
    table,
    random: () => 0,
    ...(options.maxCacheEntries === undefined ? {} : { maxCacheEntries: options.maxCacheEntries }),
    send: (questions, knownAnswers) => sent.push({ questions, known: knownAnswers('eth0') }),
  });
  return { clock, table, browser, events, sent };
}

describe('DnsSdBrowser', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });

  it('reports a complete announcement as one service with IPv4 first and a zoned link-local', () => {
    h.browser.handleResponse(announcement(), { interfaceName: 'eth0' });
    assert.equal(h.events.length, 1);
    const { type, service } = h.events[0]!;
    assert.equal(type, 'up');
    assert.equal(service.instanceName, INSTANCE);
    assert.equal(service.hostName, 'vm.local');
    assert.equal(service.port, 4741);
    assert.equal(service.ski, PEER_SKI);
    assert.equal(service.own, false);
    assert.equal(service.provider, 'builtin');
    assert.equal(service.record.register, true);
    assert.deepEqual(service.addresses, [
      { address: '10.251.7.1', family: 4, interfaceName: 'eth0' },
      { address: 'fe80::748a:72ff:fe32:26d8%eth0', family: 6, interfaceName: 'eth0' },
    ]);
    assert.deepEqual(h.table.services(), [service]);
  });

  it('merges the same instance seen on two interfaces into one service', () => {
    h.browser.handleResponse(announcement(), { interfaceName: 'eth0' });
    h.browser.handleResponse(announcement(), { interfaceName: 'wlan0' });
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['up', 'update'],
    );
    assert.deepEqual(
      h.table.services()[0]!.addresses.map((a) => a.address),
      ['10.251.7.1', 'fe80::748a:72ff:fe32:26d8%eth0', 'fe80::748a:72ff:fe32:26d8%wlan0'],
    );
    h.browser.forgetInterface('wlan0');
    assert.equal(h.events.at(-1)!.type, 'update');
    assert.equal(h.table.services()[0]!.addresses.length, 2);
  });

  it('ignores services without a valid SHIP TXT and unrelated records', () => {
    h.browser.handleResponse(
      announcement({ txt: [Buffer.from('txtvers=2'), Buffer.from('id=x')] }),
      { interfaceName: 'eth0' },
    );
    h.browser.handleResponse(
      decode({
        type: 'response',
        answers: [
          { name: '_http._tcp.local', type: 'PTR', ttl: 120, data: 'web._http._tcp.local' },
          {
            name: 'web._http._tcp.local',
            type: 'SRV',
            ttl: 120,
            data: { port: 80, target: 'vm.local' },
          },
          { name: 'other.local', type: 'A', ttl: 120, data: '10.0.0.9' },
        ],
      }),
      { interfaceName: 'eth0' },
    );
    assert.equal(h.events.length, 0);
    assert.equal(h.table.services().length, 0);
  });

  it('flags our own SKI but still reports it', () => {
    h.browser.handleResponse(announcement({ txt: txt(OWN_SKI, false) }), { interfaceName: 'eth0' });
    assert.equal(h.events[0]!.service.own, true);
  });

  it('emits update when the TXT changes (cache-flush replaces the old copy)', () => {
    h.browser.handleResponse(announcement({ flush: true }), { interfaceName: 'eth0' });
    h.clock.advance(2_000);
    h.browser.handleResponse(announcement({ flush: true, txt: txt(PEER_SKI, false) }), {
      interfaceName: 'eth0',
    });
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['up', 'update'],
    );
    assert.equal(h.events[1]!.service.record.register, false);
    h.clock.advance(GOODBYE_GRACE_MS + 10);
    // The flushed old TXT expired; nothing else changes.
    assert.equal(h.events.length, 2);
  });

  it('goodbye (TTL 0) removes the service one second later', () => {
    h.browser.handleResponse(announcement(), { interfaceName: 'eth0' });
    h.clock.advance(5_000);
    h.browser.handleResponse(announcement({ ttl: 0 }), { interfaceName: 'eth0' });
    assert.equal(h.events.length, 1);
    h.clock.advance(GOODBYE_GRACE_MS - 1);
    assert.equal(h.events.length, 1);
    h.clock.advance(2);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['up', 'down'],
    );
    assert.equal(h.events[1]!.service.ski, PEER_SKI);
    assert.equal(h.table.services().length, 0);
    assert.equal(h.browser.cacheSize, 0);
  });

  it('re-queries at 80-95 % of the TTL and expires silent records', () => {
    h.browser.start();
    h.browser.handleResponse(announcement(), { interfaceName: 'eth0' });
    h.sent.length = 0;
    h.clock.advance(95_000); // 79 % of 120 s
    assert.ok(!h.sent.some((q) => q.questions.some((x) => x.type === 'SRV')));
    h.clock.advance(1_100); // 80 %
    const refresh = h.sent.flatMap((q) => q.questions);
    assert.ok(
      refresh.some((q) => q.type === 'SRV' && q.name === FQDN),
      JSON.stringify(refresh),
    );
    assert.ok(refresh.some((q) => q.type === 'A' && q.name === 'vm.local'));
    const before = h.sent.length;
    h.clock.advance(18_000); // 95 %
    assert.ok(h.sent.length >= before + 3, 'refreshes at 85, 90 and 95 %');
    assert.equal(h.events.length, 1);
    h.clock.advance(6_000); // past 100 %
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['up', 'down'],
    );
  });

  it('a refreshed record keeps the service up', () => {
    h.browser.handleResponse(announcement(), { interfaceName: 'eth0' });
    h.clock.advance(100_000);
    h.browser.handleResponse(announcement(), { interfaceName: 'eth0' });
    h.clock.advance(100_000);
    assert.deepEqual(
      h.events.map((e) => e.type),
      ['up'],
    );
  });

  it('queries for PTR with backoff and known answers', () => {
    h.browser.start();
    h.clock.advance(20);
    assert.deepEqual(h.sent[0]!.questions, [{ name: TYPE, type: 'PTR' }]);
    assert.deepEqual(h.sent[0]!.known, []);
    h.browser.handleResponse(announcement(), { interfaceName: 'eth0' });
    const times: number[] = [];
    let last = h.sent.length;
    for (let i = 0; i < 8; i++) {
      h.clock.advance(1);
      while (h.sent.length === last) h.clock.advance(1);
      last = h.sent.length;
      times.push(h.clock.now());
      if (h.clock.now() > 60_000) break;
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (let i = 1; i < gaps.length; i++)
      assert.ok(gaps[i]! >= gaps[i - 1]!, `backoff ${gaps.join(',')}`);
    // Known-answer suppression: our PTR is included while it has > 50 % TTL left.
    const ptrQuery = h.sent.find(
      (q) => q.questions.some((x) => x.type === 'PTR') && q.known.length > 0,
    );
    assert.ok(ptrQuery !== undefined);
    assert.equal(ptrQuery.known[0]!.type, 'PTR');
    assert.ok(QUERY_MAX_INTERVAL_MS >= 3_600_000);
  });

  it('asks for missing SRV/TXT/addresses with backoff', () => {
    h.browser.start();
    h.clock.advance(200);
    h.sent.length = 0;
    h.browser.handleResponse(
      decode({ type: 'response', answers: [{ name: TYPE, type: 'PTR', ttl: 4500, data: FQDN }] }),
      { interfaceName: 'eth0' },
    );
    assert.deepEqual(h.sent[0]!.questions, [
      { name: FQDN, type: 'SRV' },
      { name: FQDN, type: 'TXT' },
    ]);
    h.clock.advance(500);
    assert.equal(h.sent.length, 1, 'no second follow-up within a second');
    h.clock.advance(600);
    assert.ok(h.sent.some((q, i) => i > 0 && q.questions.some((x) => x.type === 'SRV')));
    // SRV + TXT arrive, address still missing -> ask for A/AAAA of the target.
    h.sent.length = 0;
    h.browser.handleResponse(
      decode({
        type: 'response',
        answers: [
          { name: FQDN, type: 'SRV', ttl: 120, data: { port: 4741, target: 'vm.local' } },
          { name: FQDN, type: 'TXT', ttl: 4500, data: txt() },
        ],
      }),
      { interfaceName: 'eth0' },
    );
    assert.ok(h.sent.some((q) => q.questions.some((x) => x.type === 'A' && x.name === 'vm.local')));
    assert.equal(h.events.length, 0);
    h.browser.handleResponse(
      decode({
        type: 'response',
        answers: [{ name: 'vm.local', type: 'A', ttl: 120, data: '10.251.7.1' }],
      }),
      { interfaceName: 'eth0' },
    );
    assert.equal(h.events.length, 1);
  });

  it('keeps the cache bounded', () => {
    const small = harness({ maxCacheEntries: 20 });
    for (let i = 0; i < 30; i++) {
      small.browser.handleResponse(announcement({ instance: `svc-${i}` }), {
        interfaceName: 'eth0',
      });
    }
    assert.ok(small.browser.cacheSize <= 20, `cache ${small.browser.cacheSize}`);
  });

  it('stop() cancels the query timers', () => {
    h.browser.start();
    h.browser.stop();
    h.sent.length = 0;
    h.clock.advance(10_000);
    assert.equal(h.sent.length, 0);
  });
});
