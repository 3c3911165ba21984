/**
 * Hubs over real TLS + WebSocket on 127.0.0.1: both see each other at once and dial at the same
 * instant; under both double-connection rules they must end with one connection, exchange data,
 * and un-pairing must end it for good.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hub } from '../../src/hub/hub.js';
import type { DoubleConnectionRule } from '../../src/hub/policy.js';
import { TlsTransport } from '../../src/hub/transport.js';
import type { ConnectionFailure } from '../../src/hub/types.js';
import { connectShip } from '../../src/transport/ship-client.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import type { NodeIdentity } from '../../src/trust/identity.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { StaticDiscovery, serviceAt } from '../helpers/static-discovery.js';

function makeHub(identity: NodeIdentity, peer: NodeIdentity, rule: DoubleConnectionRule) {
  const discovery = new StaticDiscovery();
  const received: unknown[] = [];
  const hub = new Hub({
    localSki: identity.ski,
    localShipId: `id-${identity.ski.slice(0, 6)}`,
    transport: new TlsTransport({
      tls: createShipTlsContext(identity),
      localSki: identity.ski,
      localShipId: `id-${identity.ski.slice(0, 6)}`,
      port: 0,
      host: '127.0.0.1',
      clock: systemClock,
    }),
    clock: systemClock,
    discovery,
    trusted: [{ ski: peer.ski }],
    doubleConnectionRule: rule,
    random: () => 0, // both dial at once: the worst case for double connections
    setupRemoteDevice: (device) => {
      device.send({ datagram: [{ hello: identity.ski.slice(0, 6) }] });
      return { onData: (payload) => received.push(payload) };
    },
  });
  return { hub, discovery, received };
}

/** Polls `predicate` every 20 ms, at most `maxPolls` times (a count, not a time bound). */
async function until(predicate: () => boolean, maxPolls = 3_000): Promise<void> {
  for (let polls = 0; !predicate(); polls++) {
    if (polls >= maxPolls) throw new Error(`condition not met after ${maxPolls} polls`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('hubs over real sockets on 127.0.0.1', () => {
  for (const rule of ['spec', 'legacy'] as const) {
    it(`${rule} rule: simultaneous dials converge to one connection with data both ways`, async () => {
      const ia = await testIdentity('hub-a');
      const ib = await testIdentity('hub-b');
      const a = makeHub(ia, ib, rule);
      const b = makeHub(ib, ia, rule);
      const portA = await a.hub.start();
      const portB = await b.hub.start();
      try {
        a.discovery.add(serviceAt(ib.ski, portB));
        b.discovery.add(serviceAt(ia.ski, portA));
        await until(
          () =>
            a.hub.connections().some((c) => c.state === 'SME_STATE_COMPLETE') &&
            b.hub.connections().some((c) => c.state === 'SME_STATE_COMPLETE'),
        );
        // The double-connection rule is applied right after TLS, so once both ends are in data
        // exchange the losing duplicate is already refused or being closed: exactly one is left.
        await until(() => a.hub.openConnectionCount === 1 && b.hub.openConnectionCount === 1);
        const [ca] = a.hub.connections();
        const [cb] = b.hub.connections();
        assert.notEqual(ca?.direction, cb?.direction, 'the two ends of one connection');
        await until(() => a.received.length >= 1 && b.received.length >= 1);
        assert.deepEqual(a.received.at(-1), { datagram: [{ hello: ib.ski.slice(0, 6) }] });
        assert.deepEqual(b.received.at(-1), { datagram: [{ hello: ia.ski.slice(0, 6) }] });

        await a.hub.unregisterRemoteSki(ib.ski);
        await until(() => a.hub.openConnectionCount === 0 && b.hub.openConnectionCount === 0);
        assert.equal(a.hub.isTrusted(ib.ski), false);
      } finally {
        await Promise.all([a.hub.stop(1_000), b.hub.stop(1_000)]);
      }
    });
  }
});

describe('a close that claims the double-connection rule', () => {
  it('from an unknown device is reported like any other failed handshake', async () => {
    const [hubIdentity, stranger] = await Promise.all([
      testIdentity('claims-hub'),
      testIdentity('claims-stranger'),
    ]);
    const hub = new Hub({
      localSki: hubIdentity.ski,
      localShipId: 'claims-hub',
      transport: new TlsTransport({
        tls: createShipTlsContext(hubIdentity),
        localSki: hubIdentity.ski,
        localShipId: 'claims-hub',
        port: 0,
        host: '127.0.0.1',
        clock: systemClock,
      }),
      clock: systemClock,
      trusted: [],
    });
    const port = await hub.start();
    try {
      const asked = new Promise<void>((resolve) => hub.once('pairingRequest', () => resolve()));
      const failed = new Promise<ConnectionFailure>((resolve) =>
        hub.once('connectionFailed', resolve),
      );
      const connection = await connectShip({
        host: '127.0.0.1',
        port,
        expectedSki: hubIdentity.ski,
        tls: createShipTlsContext(stranger),
        localSki: stranger.ski,
        localShipId: 'claims-stranger',
        clock: systemClock,
      });
      await asked;
      // Nothing to replace: the hub has no other connection of this SKI.
      await connection.terminate(1000, 'double connection');
      const failure = await failed;
      assert.equal(failure.ski, stranger.ski);
      assert.equal(failure.error.code, 'SHIPHUB_ERR_DOUBLE_CONNECTION');
      assert.equal(failure.trusted, false);
      assert.deepEqual(hub.connections(), []);
      // Not the rule's quiet path (no report, kept in the peer table for a redial): its pairing
      // state says the handshake failed, and the table's bound for idle unknown SKIs applies.
      assert.equal(hub.pairingState(stranger.ski), 'error');
    } finally {
      await hub.stop(1_000);
    }
  });
});
