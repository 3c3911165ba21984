/**
 * The hub's two consolidated concerns (issue 11): the trust store is the one owner of trust (the
 * hub keeps no flag of its own, writes before it acts, and undoes an auto-accept that cannot be
 * saved), and the lifecycle is an explicit state that a failed start rolls back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, type HubOptions } from '../../../src/hub/hub.js';
import type { HubTransport } from '../../../src/hub/transport.js';
import {
  MemoryTrustStore,
  type HubTrustStore,
  type TrustedDeviceDescription,
} from '../../../src/hub/trust-port.js';
import { failureInfo, TransportError } from '../../../src/errors.js';
import type { ConnectionFailure } from '../../../src/hub/types.js';
import { toSki, type Ski } from '../../../src/ship/ski.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryNetwork, seededRandom } from '../../helpers/memory-network.js';

const BIG = toSki('f'.repeat(40));
const SMALL = toSki('1'.repeat(40));

/** A memory store that records every call and can be told to fail its writes (a full disk). */
class RecordingStore implements HubTrustStore {
  readonly calls: string[] = [];
  failWrites = false;
  readonly inner = new MemoryTrustStore();

  has(ski: string): boolean {
    return this.inner.has(ski);
  }
  get(ski: string) {
    return this.inner.get(ski);
  }
  list() {
    return this.inner.list();
  }
  async add(device: TrustedDeviceDescription): Promise<unknown> {
    this.calls.push(`add ${device.ski} ${device.brand ?? '-'}`);
    const before = this.inner.has(device.ski);
    await this.inner.add(device);
    if (this.failWrites) {
      // Like the file store: the view is as before the change once the write failed.
      if (!before) await this.inner.remove(device.ski);
      throw new Error('ENOSPC: no space left on device');
    }
    return undefined;
  }
  async remove(ski: string): Promise<boolean> {
    this.calls.push(`remove ${ski}`);
    if (this.failWrites) throw new Error('ENOSPC: no space left on device');
    return this.inner.remove(ski);
  }
  async recordConnection(ski: string): Promise<unknown> {
    this.calls.push(`connection ${ski}`);
    return this.inner.recordConnection(ski);
  }
  async pinKey(ski: string, keySha256: string): Promise<unknown> {
    this.calls.push(`pin ${ski}`);
    return this.inner.pinKey(ski, keySha256);
  }
}

function hubOn(net: MemoryNetwork, host: string, ski: Ski, options: Partial<HubOptions> = {}) {
  const shipId = `${host}-ship-id`;
  return new Hub({
    localSki: ski,
    localShipId: shipId,
    transport: net.transport(host, ski, shipId),
    discovery: net.mdns(host),
    clock: net.clock,
    announce: { brand: `Brand-${host}`, model: `Model-${host}`, type: 'HeatPump' },
    random: seededRandom(3),
    ...options,
  });
}

async function stopAll(clock: FakeClock, ...hubs: Hub[]): Promise<void> {
  const stopping = Promise.all(hubs.map((h) => h.stop(2_000)));
  await clock.advanceAsync(5_000);
  await stopping;
}

describe('hub trust store port', () => {
  it('the store is the one owner: pairing, the first connection and the key go to it', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const store = new RecordingStore();
    const a = hubOn(net, 'a', BIG, { trustStore: store });
    const b = hubOn(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const changes: string[] = [];
    a.on('trustChanged', (ski, trusted, cause) => changes.push(`${ski}:${trusted}:${cause}`));
    await a.start();
    await b.start();
    await clock.advanceAsync(10_000);
    await a.registerRemoteSki(SMALL);
    assert.equal(store.has(SMALL), true, 'written before the hub acts');
    assert.equal(a.isTrusted(SMALL), true, 'the hub reads the store');
    await clock.advanceAsync(30_000);
    assert.equal(a.connections().filter((c) => c.state === 'SME_STATE_COMPLETE').length, 1);
    // Described from the device's mDNS record; its connection and key are recorded.
    assert.deepEqual(store.calls.slice(0, 1), [`add ${SMALL} Brand-b`]);
    assert.ok(store.calls.includes(`connection ${SMALL}`), store.calls.join(', '));
    assert.ok(store.calls.includes(`pin ${SMALL}`), store.calls.join(', '));
    assert.deepEqual(changes, [`${SMALL}:true:approved`]);

    // Removed in the store (by the hub) before the connection is closed.
    const [removed] = await Promise.all([a.unregisterRemoteSki(SMALL), clock.advanceAsync(5_000)]);
    assert.equal(removed, true);
    assert.equal(store.has(SMALL), false);
    assert.equal(await a.unregisterRemoteSki(SMALL), false, 'not trusted any more');
    assert.deepEqual(changes, [`${SMALL}:true:approved`, `${SMALL}:false:unregistered`]);
    await stopAll(clock, a, b);
  });

  it('a trust that cannot be saved is an error and changes nothing', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const store = new RecordingStore();
    const a = hubOn(net, 'a', BIG, { trustStore: store });
    await a.start();
    store.failWrites = true;
    await assert.rejects(a.registerRemoteSki(SMALL), /ENOSPC/);
    assert.equal(a.isTrusted(SMALL), false);
    assert.equal(a.pairingState(SMALL), 'none', 'not queued for dialling');
    await stopAll(clock, a);
  });

  it('a pending request stays pending when its approval cannot be saved', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const store = new RecordingStore();
    const a = hubOn(net, 'a', BIG, { trustStore: store });
    const b = hubOn(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    await a.start();
    await b.start();
    await clock.advanceAsync(10_000);
    assert.deepEqual(
      a.pendingPairings().map((p) => p.ski),
      [SMALL],
    );
    store.failWrites = true;
    await assert.rejects(a.approve(SMALL), /ENOSPC/);
    assert.deepEqual(
      a.pendingPairings().map((p) => p.ski),
      [SMALL],
      'still waiting for a decision',
    );
    store.failWrites = false;
    await a.approve(SMALL);
    await clock.advanceAsync(10_000);
    assert.equal(a.pendingPairings().length, 0);
    assert.equal(store.has(SMALL), true);
    await stopAll(clock, a, b);
  });

  it('an auto-accepted device whose trust cannot be saved is disconnected again', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const store = new RecordingStore();
    const a = hubOn(net, 'a', BIG, { trustStore: store });
    const b = hubOn(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const changes: string[] = [];
    const errors: unknown[] = [];
    a.on('trustChanged', (ski, trusted, cause) => changes.push(`${ski}:${trusted}:${cause}`));
    a.on('trustStoreError', (error) => errors.push(error));
    const rolledBack = new Promise<void>((resolve) =>
      a.on('trustChanged', (_ski, _trusted, cause) => {
        if (cause === 'rolled_back') resolve();
      }),
    );
    await a.start();
    await a.openAutoAcceptWindow(60_000);
    store.failWrites = true;
    await b.start();
    await clock.advanceAsync(10_000);
    await rolledBack;
    assert.deepEqual(changes.slice(0, 2), [
      `${SMALL}:true:auto_accepted`,
      `${SMALL}:false:rolled_back`,
    ]);
    assert.equal(errors.length >= 1, true);
    assert.equal(a.isTrusted(SMALL), false);
    await a.closeAutoAcceptWindow();
    await clock.advanceAsync(5_000);
    assert.equal(
      a.connections().filter((c) => c.ski === SMALL && c.state === 'SME_STATE_COMPLETE').length,
      0,
      'no data exchange with a device whose trust was undone',
    );
    await stopAll(clock, a, b);
  });

  it('a reloaded store: new devices are dialled, removed ones disconnected', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const store = new MemoryTrustStore();
    const a = hubOn(net, 'a', BIG, { trustStore: store });
    const b = hubOn(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    await a.start();
    await b.start();
    // A person edited the store behind the hub's back (the daemon's SIGHUP).
    await store.add({ ski: SMALL });
    await a.trustReloaded({ added: [SMALL], removed: [] });
    await clock.advanceAsync(30_000);
    assert.equal(a.connections().filter((c) => c.state === 'SME_STATE_COMPLETE').length, 1);
    const closes: Array<number | undefined> = [];
    a.on('disconnected', (_ski, info) => closes.push(info.closeCode));
    await store.remove(SMALL);
    await Promise.all([
      a.trustReloaded({ added: [], removed: [SMALL] }),
      clock.advanceAsync(5_000),
    ]);
    assert.deepEqual(closes, [4001], 'un-paired with a SHIP close');
    assert.equal(
      a.connections().filter((c) => c.ski === SMALL && c.state === 'SME_STATE_COMPLETE').length,
      0,
      'b may ask again, but gets no data exchange',
    );
    await stopAll(clock, a, b);
  });

  it('takes either a trust store or trusted seeds, not both', () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    assert.throws(
      () => hubOn(net, 'a', BIG, { trustStore: new MemoryTrustStore(), trusted: [] }),
      /either trustStore or trusted/,
    );
  });
});

describe('static peers (no mDNS)', () => {
  function hubWithoutMdns(
    net: MemoryNetwork,
    host: string,
    ski: Ski,
    options: Partial<HubOptions>,
  ) {
    const shipId = `${host}-ship-id`;
    return new Hub({
      localSki: ski,
      localShipId: shipId,
      transport: net.transport(host, ski, shipId),
      clock: net.clock,
      random: seededRandom(5),
      ...options,
    });
  }

  it('a trusted device with an address in its trust entry is dialled there', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const b = hubWithoutMdns(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const port = await b.start();
    const store = new MemoryTrustStore();
    await store.add({ ski: SMALL, address: `b:${port}` });
    const a = hubWithoutMdns(net, 'a', BIG, { trustStore: store });
    await a.start();
    await clock.advanceAsync(30_000);
    const ca = a.connections().filter((c) => c.ski === SMALL);
    assert.equal(ca.length, 1);
    assert.equal(ca[0]?.state, 'SME_STATE_COMPLETE');
    assert.equal(ca[0]?.direction, 'outbound');
    await stopAll(clock, a, b);
  });

  it("the config's peers give addresses, and only trusted devices are dialled", async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const b = hubWithoutMdns(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const port = await b.start();
    const a = hubWithoutMdns(net, 'a', BIG, {
      staticPeers: [{ ski: SMALL, address: `b:${port}` }],
    });
    const dials: string[] = [];
    a.on('reconnectScheduled', (ski) => dials.push(ski));
    await a.start();
    await clock.advanceAsync(30_000);
    assert.deepEqual(dials, [], 'not trusted: not dialled');
    await a.registerRemoteSki(SMALL);
    await clock.advanceAsync(30_000);
    assert.equal(
      a.connections().filter((c) => c.ski === SMALL && c.state === 'SME_STATE_COMPLETE').length,
      1,
    );
    await stopAll(clock, a, b);
  });

  it('a registration with an address records it in the trust store', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const store = new RecordingStore();
    const a = hubWithoutMdns(net, 'a', BIG, { trustStore: store });
    await a.start();
    await a.registerRemoteSki(SMALL, { address: '192.0.2.7:4712' });
    assert.equal(store.get(SMALL)?.address, '192.0.2.7:4712');
    await stopAll(clock, a);
  });
});

describe('hub failures carry the error of the failure table', () => {
  it('a dial that fails reports a TransportError whose table row gives the metric label', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = hubOn(net, 'a', BIG, { trusted: [{ ski: SMALL }] });
    const b = hubOn(net, 'b', SMALL, { trusted: [{ ski: BIG }] });
    const failures: ConnectionFailure[] = [];
    a.on('connectionFailed', (failure) => failures.push(failure));
    // b's mDNS record outlives b: a sees the device but nothing answers at its address.
    await b.start();
    const record = net.announcedService('b');
    assert.ok(record);
    await stopAll(clock, b);
    await a.start();
    net.reappear('b', record);
    await clock.advanceAsync(5_000);
    const dial = failures.find((f) => f.ski === SMALL && f.refusedFrom === undefined);
    assert.ok(dial, `a dial failure was reported: ${failures.map((f) => f.reason).join('; ')}`);
    assert.ok(dial.error instanceof TransportError);
    assert.equal(dial.error.code, 'SHIPHUB_ERR_TRANSPORT');
    assert.equal(failureInfo(dial.error).metricLabel, 'connection_failed');
    assert.equal(dial.trusted, true);
    await stopAll(clock, a);
  });
});

describe('hub lifecycle', () => {
  function failingTransport(inner: HubTransport, failures: number): HubTransport {
    let left = failures;
    return {
      listen: (handlers) => {
        if (left-- > 0) return Promise.reject(new Error('EADDRINUSE'));
        return inner.listen(handlers);
      },
      dial: (target, signal) => inner.dial(target, signal),
      close: () => inner.close(),
    };
  }

  it('a failed start is rolled back and can be retried', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const transport = failingTransport(net.transport('a', BIG, 'a-ship-id'), 1);
    const a = hubOn(net, 'a', BIG, { transport });
    assert.equal(a.state, 'idle');
    await assert.rejects(a.start(), /EADDRINUSE/);
    assert.equal(a.state, 'idle', 'not marked running');
    assert.equal(a.listeningPort, undefined);
    const port = await a.start();
    assert.equal(a.state, 'running');
    assert.equal(a.listeningPort, port);
    assert.ok(net.listeners.has(`a:${port}`), 'listening after the retry');
    await stopAll(clock, a);
    assert.equal(a.state, 'stopped');
    assert.equal(net.listeners.has(`a:${port}`), false);
  });

  it('start and stop are idempotent, also when called concurrently', async () => {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock);
    const a = hubOn(net, 'a', BIG);
    const [p1, p2] = await Promise.all([a.start(), a.start()]);
    assert.equal(p1, p2);
    assert.equal(await a.start(), p1);
    const stops = Promise.all([a.stop(1_000), a.stop(1_000)]);
    await clock.advanceAsync(2_000);
    await stops;
    assert.equal(a.state, 'stopped');
    await a.stop();
    assert.equal(a.state, 'stopped');
  });
});
