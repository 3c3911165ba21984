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
