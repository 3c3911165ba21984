/**
 * Admission under attack, simulated (fake clock, in-memory network): unknown devices have their
 * own budget and give way to paired ones, one pending session per unknown SKI, denials are
 * remembered for a cool-down, and the hub's tables stay bounded without ever being reset.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, type HubOptions } from '../../../src/hub/hub.js';
import type { ListenHandlers } from '../../../src/hub/transport.js';
import { toSki, type Ski } from '../../../src/ship/ski.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryNetwork, seededRandom } from '../../helpers/memory-network.js';

const CENTER = toSki('e'.repeat(40));

function hexSki(n: number): Ski {
  return toSki(n.toString(16).padStart(40, '0'));
}

function node(
  net: MemoryNetwork,
  host: string,
  ski: Ski,
  options: Partial<HubOptions> & { seed?: number } = {},
): Hub {
  return new Hub({
    localSki: ski,
    localShipId: `${host}-ship-id`,
    transport: net.transport(host, ski, `${host}-ship-id`),
    discovery: net.mdns(host),
    clock: net.clock,
    random: seededRandom(options.seed ?? 1),
    ...options,
  });
}

function handlersOf(net: MemoryNetwork, host: string): ListenHandlers {
  const listener = [...net.listeners.values()].find((l) => l.host === host);
  assert.ok(listener, `${host} listens`);
  return listener.handlers;
}

async function stopAll(clock: FakeClock, ...hubs: Hub[]): Promise<void> {
  const stopping = Promise.all(hubs.map((h) => h.stop(2_000)));
  await clock.advanceAsync(5_000);
  await stopping;
}

function completeConnectionsTo(hub: Hub, ski: Ski): number {
  return hub.connections().filter((c) => c.ski === ski && c.state === 'SME_STATE_COMPLETE').length;
}

describe('hub admission: unknown devices never lock paired ones out', () => {
  it('unknown devices stay within max_pending_pairings, however many keep dialling', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const center = node(net, 'center', CENTER, { maxConnections: 20, maxPendingPairings: 3 });
    await center.start();
    // Eight unknown devices that trust the hub and keep coming back (like an attacker would).
    const unknown = Array.from({ length: 8 }, (_, i) =>
      node(net, `u${i}`, hexSki(i + 1), { trusted: [{ ski: CENTER }], seed: i + 2 }),
    );
    let mostUntrusted = 0;
    center.on('pairingRequest', () => {
      mostUntrusted = Math.max(mostUntrusted, center.pendingPairings().length);
    });
    for (const u of unknown) await u.start();
    for (let step = 0; step < 30; step++) {
      await clock.advanceAsync(10_000);
      const open = center.connections().filter((c) => !center.isTrusted(c.ski)).length;
      mostUntrusted = Math.max(mostUntrusted, open);
    }
    assert.ok(mostUntrusted <= 3, `at most 3 unknown devices at once, saw ${mostUntrusted}`);
    assert.ok(mostUntrusted >= 1, 'unknown devices do get to ask');
    await stopAll(clock, center, ...unknown);
  });

  it('a paired device gets in when unknown devices fill max_connections', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const paired = toSki('a'.repeat(40));
    // The unknown budget equals the whole limit: only eviction can make room.
    const center = node(net, 'center', CENTER, {
      maxConnections: 3,
      maxPendingPairings: 3,
      trusted: [{ ski: paired }],
    });
    await center.start();
    const unknown = Array.from({ length: 3 }, (_, i) =>
      node(net, `u${i}`, hexSki(i + 1), { trusted: [{ ski: CENTER }], seed: i + 2 }),
    );
    for (const u of unknown) await u.start();
    await clock.advanceAsync(30_000);
    assert.equal(center.pendingPairings().length, 3, 'three unknown devices wait for a decision');
    assert.equal(center.openConnectionCount, 3, 'max_connections is reached');

    const device = node(net, 'device', paired, { trusted: [{ ski: CENTER }], seed: 9 });
    await device.start();
    await clock.advanceAsync(30_000);
    assert.equal(completeConnectionsTo(center, paired), 1, 'the paired device is in');
    assert.equal(completeConnectionsTo(device, CENTER), 1);
    // The unknown devices keep reconnecting and evicting each other, never the paired device.
    for (let step = 0; step < 10; step++) {
      await clock.advanceAsync(20_000);
      assert.equal(completeConnectionsTo(center, paired), 1, `paired device stays (${step})`);
      assert.ok(center.openConnectionCount <= 3, 'max_connections holds');
    }
    await stopAll(clock, center, device, ...unknown);
  });

  it('when every connection is paired, the next device is refused at the door', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const pairedA = toSki('a'.repeat(40));
    const center = node(net, 'center', CENTER, { maxConnections: 1, trusted: [{ ski: pairedA }] });
    await center.start();
    const a = node(net, 'a', pairedA, { trusted: [{ ski: CENTER }], seed: 2 });
    await a.start();
    await clock.advanceAsync(30_000);
    assert.equal(completeConnectionsTo(center, pairedA), 1);
    assert.match(handlersOf(net, 'center').admit('10.9.9.9') ?? '', /connection limit reached/);
    await stopAll(clock, center, a);
  });
});

describe('hub admission: one pending session per unknown SKI', () => {
  it('a second connection of a pending SKI replaces the first and keeps its expiry', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const center = node(net, 'center', CENTER, { pendingPairingTimeoutMs: 600_000 });
    await center.start();
    const twinSki = hexSki(7);
    const first = node(net, 'twin1', twinSki, { trusted: [{ ski: CENTER }], seed: 3 });
    await first.start();
    await clock.advanceAsync(20_000);
    const before = center.pendingPairings();
    assert.equal(before.length, 1);
    const withdrawn: Ski[] = [];
    center.on('pairingWithdrawn', (ski) => withdrawn.push(ski));

    // The same SKI from another host (a copy, or the device after a silent reconnect).
    const second = node(net, 'twin2', twinSki, { trusted: [{ ski: CENTER }], seed: 4 });
    await second.start();
    await clock.advanceAsync(20_000);
    const sessions = center.connections().filter((c) => c.ski === twinSki);
    assert.equal(sessions.length, 1, 'one session for the SKI');
    const after = center.pendingPairings();
    assert.equal(after.length, 1, 'one request, visible in pairing list');
    assert.ok(withdrawn.includes(twinSki), 'the replaced request was withdrawn');
    assert.equal(after[0]?.since.getTime(), before[0]?.since.getTime(), 'same request start');
    assert.ok(
      Math.abs((after[0]?.expiresAt.getTime() ?? 0) - (before[0]?.expiresAt.getTime() ?? 0)) <= 1,
      'reconnecting does not restart the pairing timeout',
    );

    // Deny ends every session of the SKI.
    assert.equal(center.deny(twinSki), true);
    await clock.advanceAsync(2_000);
    assert.equal(center.connections().filter((c) => c.ski === twinSki).length, 0);
    await stopAll(clock, center, first, second);
  });
});

describe('hub admission: denials are remembered', () => {
  it('a denied device is refused without a question during the cool-down; forget ends it', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const center = node(net, 'center', CENTER, { deniedPairingCooldownMs: 600_000 });
    await center.start();
    const deviceSki = hexSki(5);
    const device = node(net, 'device', deviceSki, { trusted: [{ ski: CENTER }], seed: 5 });
    const requests: Ski[] = [];
    const refusedQuietly: Ski[] = [];
    const failures: Array<Ski | undefined> = [];
    center.on('pairingRequest', (p) => requests.push(p.ski));
    center.on('pairingRefusedDenied', (ski) => refusedQuietly.push(ski));
    center.on('connectionFailed', ({ ski }) => failures.push(ski));
    const states: string[] = [];
    center.on('pairingState', (ski, update) => {
      if (ski === deviceSki) states.push(update.state);
    });
    await device.start();
    await clock.advanceAsync(20_000);
    assert.deepEqual(requests, [deviceSki]);
    assert.equal(center.deny(deviceSki), true);
    await clock.advanceAsync(2_000);
    // A person's decision is a planned end: the pairing state goes back to none, not to error
    // (the daemon would log the seed's ConnectionStateError line for an error).
    assert.equal(states.includes('error'), false, states.join(', '));
    assert.equal(center.pairingState(deviceSki), 'none');
    failures.length = 0;

    // The device asks again and again (every 10-20 s); nobody is asked for 10 minutes.
    await clock.advanceAsync(300_000);
    assert.deepEqual(requests, [deviceSki], 'no new question during the cool-down');
    assert.ok(refusedQuietly.length >= 3, `refused ${refusedQuietly.length} times without asking`);
    assert.deepEqual(failures, [], 'cool-down refusals are not reported as device errors');
    const denied = center.deniedPairings();
    assert.equal(denied.length, 1);
    assert.equal(denied[0]?.ski, deviceSki);
    assert.equal(denied[0]?.refusedSince, refusedQuietly.length);

    assert.equal(center.forgetDenial(deviceSki), true);
    assert.equal(center.forgetDenial(deviceSki), false, 'nothing left to forget');
    await clock.advanceAsync(60_000);
    assert.equal(requests.length, 2, 'asked again after forget');
    assert.deepEqual(center.deniedPairings(), []);
    await stopAll(clock, center, device);
  });

  it('the cool-down ends by itself; approving a denied device pairs it at once', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const center = node(net, 'center', CENTER, { deniedPairingCooldownMs: 120_000 });
    await center.start();
    const deviceSki = hexSki(6);
    const device = node(net, 'device', deviceSki, { trusted: [{ ski: CENTER }], seed: 6 });
    const requests: Ski[] = [];
    center.on('pairingRequest', (p) => requests.push(p.ski));
    await device.start();
    await clock.advanceAsync(20_000);
    center.deny(deviceSki);
    await clock.advanceAsync(180_000);
    assert.equal(requests.length, 2, 'asked again once the cool-down was over');
    center.deny(deviceSki);
    assert.equal(center.deniedPairings().length, 1);
    await center.approve(deviceSki);
    assert.deepEqual(center.deniedPairings(), [], 'an approval ends the denial');
    await clock.advanceAsync(60_000);
    assert.equal(completeConnectionsTo(center, deviceSki), 1);
    await stopAll(clock, center, device);
  });
});

describe('hub admission: bounded tables', () => {
  it('the per-address rate table forgets the least recent address, never resets', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const center = node(net, 'center', CENTER, {
      connectionsPerAddressPerMinute: 1,
      maxRateLimitedAddresses: 50,
    });
    await center.start();
    const handlers = handlersOf(net, 'center');
    const admit = (address: string) => handlers.admit(address);
    assert.equal(admit('192.0.2.1'), undefined);
    // 1,000 other addresses within the minute; the watched one keeps connecting and stays known.
    for (let i = 0; i < 1_000; i++) {
      assert.equal(admit(`198.51.${i >> 8}.${i & 255}`), undefined);
      if (i % 40 === 0) {
        assert.match(admit('192.0.2.1') ?? '', /more than 1 connections per minute/, `at ${i}`);
      }
      assert.ok(center.rateLimitTableSize <= 50, `table bounded at ${i}`);
    }
    clock.advance(60_000);
    assert.equal(admit('192.0.2.1'), undefined, 'the minute is over');
    await stopAll(clock, center);
  });

  it('unknown SKIs that left are forgotten beyond max_idle_unknown_peers', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const center = node(net, 'center', CENTER, {
      maxIdleUnknownPeers: 4,
      canWaitForTrust: () => false,
    });
    await center.start();
    const peers: Hub[] = [];
    for (let i = 0; i < 12; i++) {
      const peer = node(net, `p${i}`, hexSki(100 + i), { trusted: [{ ski: CENTER }], seed: i });
      peers.push(peer);
      await peer.start();
      await clock.advanceAsync(5_000);
      await stopAll(clock, peer);
      assert.ok(
        center.peerTableSize <= 4,
        `peer table bounded after ${i + 1}: ${center.peerTableSize}`,
      );
    }
    assert.ok(center.peerTableSize >= 1, 'recent unknown SKIs are remembered');
    await stopAll(clock, center);
  });
});
