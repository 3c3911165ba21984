/**
 * Deterministic simulation of several hubs (fake clock, in-memory network and mDNS): double
 * connections under both rules and both SKI orders with jitter, flapping links, devices that
 * disappear and return, long pending pairings with prolongation, approval during a
 * prolongation, auto-accept windows. Every case must converge to one connection per pair.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, type HubOptions } from '../../../src/hub/hub.js';
import { decideDoubleConnection, reconnectDelayMs } from '../../../src/hub/policy.js';
import type { DoubleConnectionRule } from '../../../src/hub/policy.js';
import { toSki, type Ski } from '../../../src/ship/ski.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryNetwork, seededRandom } from '../../helpers/memory-network.js';

const BIG = toSki('f'.repeat(40));
const SMALL = toSki('1'.repeat(40));

interface Node {
  hub: Hub;
  host: string;
  ski: Ski;
  received: unknown[];
}

function node(
  net: MemoryNetwork,
  host: string,
  ski: Ski,
  options: Partial<HubOptions> & { seed?: number } = {},
): Node {
  const received: unknown[] = [];
  const shipId = `${host}-ship-id`;
  const hub = new Hub({
    localSki: ski,
    localShipId: shipId,
    transport: net.transport(host, ski, shipId),
    discovery: net.mdns(host),
    clock: net.clock,
    announce: { brand: `Brand-${host}`, model: `Model-${host}`, type: 'EnergyManagementSystem' },
    random: seededRandom(options.seed ?? 1),
    setupRemoteDevice: () => ({ onData: (payload) => received.push(payload) }),
    ...options,
  });
  return { hub, host, ski, received };
}

/** Exactly one open connection between a and b, complete on both ends, opposite directions. */
function assertOneConnection(a: Node, b: Node, label: string): void {
  const ca = a.hub.connections().filter((c) => c.ski === b.ski);
  const cb = b.hub.connections().filter((c) => c.ski === a.ski);
  assert.equal(ca.length, 1, `${label}: ${a.host} has ${ca.length} connections to ${b.host}`);
  assert.equal(cb.length, 1, `${label}: ${b.host} has ${cb.length} connections to ${a.host}`);
  assert.equal(ca[0]?.state, 'SME_STATE_COMPLETE', `${label}: ${a.host} state`);
  assert.equal(cb[0]?.state, 'SME_STATE_COMPLETE', `${label}: ${b.host} state`);
  assert.notEqual(ca[0]?.direction, cb[0]?.direction, `${label}: both ends of one connection`);
  assert.equal(a.hub.pairingState(b.ski), 'completed');
}

async function stopAll(clock: FakeClock, ...nodes: Node[]): Promise<void> {
  const stopping = Promise.all(nodes.map((n) => n.hub.stop(2_000)));
  await clock.advanceAsync(5_000);
  await stopping;
}

describe('hub policy', () => {
  it('reconnect delays: 0-3 s, then 3-10 s, then 10-20 s', () => {
    assert.equal(
      reconnectDelayMs(1, () => 0),
      0,
    );
    assert.equal(
      reconnectDelayMs(1, () => 0.999999),
      3_000,
    );
    assert.equal(
      reconnectDelayMs(2, () => 0),
      3_000,
    );
    assert.equal(
      reconnectDelayMs(2, () => 0.999999),
      10_000,
    );
    assert.equal(
      reconnectDelayMs(3, () => 0),
      10_000,
    );
    assert.equal(
      reconnectDelayMs(9, () => 0.999999),
      20_000,
    );
  });

  it('double-connection rule table', () => {
    // spec: only the bigger SKI decides, and it keeps the newest.
    assert.equal(decideDoubleConnection('spec', BIG, SMALL, 'inbound'), 'keepNew');
    assert.equal(decideDoubleConnection('spec', BIG, SMALL, 'outbound'), 'keepNew');
    assert.equal(decideDoubleConnection('spec', SMALL, BIG, 'inbound'), 'keepBoth');
    assert.equal(decideDoubleConnection('spec', SMALL, BIG, 'outbound'), 'keepBoth');
    // legacy: the connection initiated by the bigger SKI wins.
    assert.equal(decideDoubleConnection('legacy', BIG, SMALL, 'outbound'), 'keepNew');
    assert.equal(decideDoubleConnection('legacy', BIG, SMALL, 'inbound'), 'rejectNew');
    assert.equal(decideDoubleConnection('legacy', SMALL, BIG, 'inbound'), 'keepNew');
    assert.equal(decideDoubleConnection('legacy', SMALL, BIG, 'outbound'), 'rejectNew');
  });
});

describe('hub simulation: double connections converge', () => {
  for (const rule of ['spec', 'legacy'] as DoubleConnectionRule[]) {
    for (const order of ['A bigger', 'B bigger']) {
      it(`${rule} rule, ${order}: simultaneous dials with jitter end in one connection`, async () => {
        for (let seed = 1; seed <= 6; seed++) {
          const clock = new FakeClock();
          const net = new MemoryNetwork(clock, 1, seededRandom(seed * 97));
          const [skiA, skiB] = order === 'A bigger' ? [BIG, SMALL] : [SMALL, BIG];
          // The same seed on both sides: both dial at the same instant (worst case).
          const a = node(net, 'a', skiA, {
            doubleConnectionRule: rule,
            seed,
            trusted: [{ ski: skiB }],
          });
          const b = node(net, 'b', skiB, {
            doubleConnectionRule: rule,
            seed,
            trusted: [{ ski: skiA }],
          });
          const devices: Array<{ from: string; send: (p: unknown) => void }> = [];
          a.hub.on('connected', (d) => devices.push({ from: 'a', send: (p) => d.send(p) }));
          b.hub.on('connected', (d) => devices.push({ from: 'b', send: (p) => d.send(p) }));
          await a.hub.start();
          await b.hub.start();
          await clock.advanceAsync(120_000);
          assertOneConnection(a, b, `seed ${seed}`);
          // Data flows both ways over the surviving connection (the dropped duplicate's device
          // handle refuses to send).
          a.received.length = 0;
          b.received.length = 0;
          for (const d of devices) {
            try {
              d.send({ datagram: [{ from: d.from, seed }] });
            } catch {
              // the handle of a connection the rule closed
            }
          }
          await clock.advanceAsync(100);
          assert.deepEqual(
            b.received,
            [{ datagram: [{ from: 'a', seed }] }],
            `seed ${seed}: a → b`,
          );
          assert.deepEqual(
            a.received,
            [{ datagram: [{ from: 'b', seed }] }],
            `seed ${seed}: b → a`,
          );
          await stopAll(clock, a, b);
        }
      });
    }
  }

  it('data reaches the application on both ends through setupRemoteDevice', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG, { trusted: [{ ski: SMALL }] });
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const devices: Array<{ from: string; send: (p: unknown) => void }> = [];
    a.hub.on('connected', (d) => devices.push({ from: 'a', send: (p) => d.send(p) }));
    b.hub.on('connected', (d) => devices.push({ from: 'b', send: (p) => d.send(p) }));
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(30_000);
    assertOneConnection(a, b, 'data');
    for (const d of devices) d.send({ datagram: [{ from: d.from }] });
    await clock.advanceAsync(100);
    assert.deepEqual(b.received, [{ datagram: [{ from: 'a' }] }]);
    assert.deepEqual(a.received, [{ datagram: [{ from: 'b' }] }]);
    await stopAll(clock, a, b);
  });
});

describe('hub simulation: faults', () => {
  it('a flapping link converges back to one connection every time', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock, 1, seededRandom(5));
    const a = node(net, 'a', BIG, { trusted: [{ ski: SMALL }], seed: 11 });
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }], seed: 12 });
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(30_000);
    assertOneConnection(a, b, 'before flapping');
    for (let flap = 1; flap <= 4; flap++) {
      net.setLink('a', 'b', false);
      await clock.advanceAsync(500 + flap * 700);
      assert.equal(a.hub.openConnectionCount, 0, `flap ${flap}: link down drops the connection`);
      net.setLink('a', 'b', true);
      await clock.advanceAsync(90_000);
      assertOneConnection(a, b, `after flap ${flap}`);
    }
    await stopAll(clock, a, b);
  });

  it('a device that disappears and returns is connected again', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG, { trusted: [{ ski: SMALL }] });
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(30_000);
    assertOneConnection(a, b, 'initially');
    const disconnected: string[] = [];
    a.hub.on('disconnected', (ski) => disconnected.push(ski));
    await stopAll(clock, b);
    assert.deepEqual(disconnected, [SMALL]);
    assert.equal(a.hub.services().length, 0, 'the goodbye removed it from the visible services');
    await clock.advanceAsync(60_000);
    assert.equal(a.hub.openConnectionCount, 0);
    const b2 = node(net, 'b', SMALL, { trusted: [{ ski: BIG }], seed: 3 });
    await b2.hub.start();
    await clock.advanceAsync(60_000);
    assertOneConnection(a, b2, 'after return');
    await stopAll(clock, a, b2);
  });

  it('an untrusted peer whose handshake failed is not redialled', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG, { canWaitForTrust: () => false });
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const dialsByA: string[] = [];
    a.hub.on('reconnectScheduled', (ski) => dialsByA.push(ski));
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(120_000);
    assert.deepEqual(dialsByA, [], 'a never dials an untrusted SKI');
    assert.equal(a.hub.openConnectionCount, 0);
    await stopAll(clock, a, b);
  });
});

describe('hub simulation: pairing', () => {
  it('a pending pairing outlives several prolongations, then approval completes it', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG, { pendingPairingTimeoutMs: 600_000 });
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const requests: unknown[] = [];
    const prolongations: number[] = [];
    a.hub.on('pairingRequest', (p) => requests.push(p));
    a.hub.on(
      'prolongation',
      (_ski, kind, count) => kind === 'requested' && prolongations.push(count),
    );
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(240_000);
    assert.equal(requests.length, 1);
    const pending = a.hub.pendingPairings();
    assert.equal(pending.length, 1);
    assert.equal(pending[0]?.brand, 'Brand-b', 'brand from the mDNS record');
    assert.equal(pending[0]?.model, 'Model-b');
    assert.ok(prolongations.length >= 4, `asked for more time ${prolongations.length} times`);
    assert.equal(a.hub.pairingState(SMALL), 'receivedPairingRequest');
    const trustChanges: string[] = [];
    a.hub.on('trustChanged', (ski, trusted) => trustChanges.push(`${ski}:${trusted}`));
    await a.hub.approve(SMALL);
    await clock.advanceAsync(5_000);
    assertOneConnection(a, b, 'after approval');
    assert.deepEqual(trustChanges, [`${SMALL}:true`]);
    assert.deepEqual(a.hub.pendingPairings(), []);
    await stopAll(clock, a, b);
  });

  it('approval arriving while a prolongation request is in flight completes cleanly', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock, 5);
    const a = node(net, 'a', BIG);
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    a.hub.on('prolongation', (ski, kind, count) => {
      // Our request has just been sent and not yet answered.
      if (kind === 'requested' && count === 2) void a.hub.approve(ski);
    });
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(300_000);
    assertOneConnection(a, b, 'approved during prolongation');
    await stopAll(clock, a, b);
  });

  it('an unanswered pairing request expires and the device is told', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG, { pendingPairingTimeoutMs: 90_000 });
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const decisions: string[] = [];
    const bStates: string[] = [];
    a.hub.on('trustDecision', (_ski, d) => decisions.push(d));
    b.hub.on('pairingState', (_ski, u) => bStates.push(u.state));
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(95_000);
    assert.deepEqual(decisions, ['expired']);
    assert.ok(bStates.includes('remoteDeniedTrust'), `b saw ${bStates.join(',')}`);
    await stopAll(clock, a, b);
  });

  it('an SKI approved before the device is seen is dialled as soon as it appears', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG);
    await a.hub.start();
    await a.hub.registerRemoteSki(SMALL);
    assert.equal(a.hub.pairingState(SMALL), 'queued');
    const delays: number[] = [];
    a.hub.on('reconnectScheduled', (_ski, _n, delay) => delays.push(delay));
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }], seed: 7 });
    await b.hub.start();
    await clock.advanceAsync(10);
    assert.equal(delays[0], 0, 'queued SKIs are dialled without delay');
    await clock.advanceAsync(30_000);
    assertOneConnection(a, b, 'pre-approved');
    await stopAll(clock, a, b);
  });

  it('auto-accept is a window of at most 2 minutes with register=true only during it', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG);
    await a.hub.start();
    const mdnsA = net.announcedService('a');
    assert.equal(mdnsA?.record.register, false);
    await a.hub.openAutoAcceptWindow(10 * 60_000);
    assert.equal(net.announcedService('a')?.record.register, true);
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const decisions: string[] = [];
    a.hub.on('trustDecision', (_ski, d) => decisions.push(d));
    await b.hub.start();
    await clock.advanceAsync(30_000);
    assertOneConnection(a, b, 'auto-accepted');
    assert.deepEqual(decisions, ['auto_accepted']);
    assert.equal(a.hub.isTrusted(SMALL), true);
    await clock.advanceAsync(90_000);
    assert.equal(net.announcedService('a')?.record.register, false, 'closed after 120 s');
    assert.equal(a.hub.autoAcceptOpen, false);
    await stopAll(clock, a, b);
  });

  it('unpairing closes with a SHIP close and the hub stops dialling', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = node(net, 'a', BIG, { trusted: [{ ski: SMALL }] });
    const b = node(net, 'b', SMALL, { trusted: [{ ski: BIG }], canWaitForTrust: () => false });
    await a.hub.start();
    await b.hub.start();
    await clock.advanceAsync(30_000);
    assertOneConnection(a, b, 'paired');
    const closes: Array<number | undefined> = [];
    b.hub.on('disconnected', (_ski, info) => closes.push(info.closeCode));
    await Promise.all([b.hub.unregisterRemoteSki(BIG), clock.advanceAsync(2_000)]);
    assert.equal(b.hub.openConnectionCount, 0);
    assert.deepEqual(closes, [4001], 'announce/confirm, then 4001');
    assert.equal(b.hub.isTrusted(BIG), false);
    const dials: string[] = [];
    b.hub.on('reconnectScheduled', (ski) => dials.push(ski));
    await clock.advanceAsync(120_000);
    assert.deepEqual(dials, []);
    // a still trusts b and comes back, but b no longer accepts it without a decision.
    assert.equal(b.hub.openConnectionCount, 0);
    await stopAll(clock, a, b);
  });

  it('warns at 90 % of max_connections', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const hubSki = toSki('e'.repeat(40));
    const center = node(net, 'center', hubSki, { maxConnections: 2 });
    const warnings: Array<[number, number]> = [];
    center.hub.on('connectionLimit', (active, max) => warnings.push([active, max]));
    await center.hub.start();
    await center.hub.openAutoAcceptWindow(120_000);
    const peers = ['1', '2', '3'].map((d, i) =>
      node(net, `p${i}`, toSki(d.repeat(40)), { trusted: [{ ski: hubSki }], seed: i + 1 }),
    );
    for (const p of peers) await p.hub.start();
    await clock.advanceAsync(60_000);
    assert.deepEqual(warnings[0], [2, 2]);
    assert.equal(center.hub.openConnectionCount, 2, 'max_connections holds');
    await stopAll(clock, center, ...peers);
  });
});
