/**
 * Malformed WebSocket frames after every refusal path of the server (issue: a refused upgrade
 * left the WebSocket without an 'error' listener, so one bad frame from an unpaired peer threw
 * `RangeError: Invalid WebSocket frame` and ended the process).
 *
 * For each refusal path (no subprotocol `ship`; a refused duplicate under the legacy double
 * connection rule) and each kind of bad frame (reserved opcode, continuation first, unmasked,
 * RSV1 set, 2^63-1 length), a peer gets its refusal close code, then sends the bad frame; the
 * process must see no uncaught exception, the refused socket must be closed by the server
 * (without waiting for ws's 30 s close timeout), and the paired device stays connected.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TLSSocket } from 'node:tls';
import type { Hub } from '../../src/hub/hub.js';
import { createShipTlsContext, type ShipTlsContext } from '../../src/transport/tls.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { connectShip } from '../../src/transport/ship-client.js';
import type { ShipConnection } from '../../src/transport/ship-connection.js';
import {
  BAD_FRAMES,
  HOST,
  rawShipClient,
  startHub,
  trapProcessErrors,
  type ProcessErrorTrap,
} from './helpers.js';

/** Resolves once the server has ended the TLS socket (it does not wait for ws's close timeout). */
function socketClosed(socket: TLSSocket): Promise<void> {
  return new Promise((resolve) =>
    socket.destroyed ? resolve() : socket.once('close', () => resolve()),
  );
}

describe('malformed frames after a refusal never stop the process', { timeout: 120_000 }, () => {
  let hub: Hub;
  let legacyHub: Hub;
  let device: ShipTlsContext;
  let stranger: ShipTlsContext;
  let paired: ShipConnection;
  let trap: ProcessErrorTrap;

  before(async () => {
    trap = trapProcessErrors();
    const [hubId, oneId, otherId, strangerId] = await Promise.all([
      testIdentity('refusal-hub'),
      testIdentity('refusal-one'),
      testIdentity('refusal-other'),
      testIdentity('refusal-stranger'),
    ]);
    // Under the legacy rule the connection initiated by the bigger SKI wins: the hub gets the
    // bigger one, so a second connection from the device is the one refused.
    const [legacyId, deviceId] =
      createShipTlsContext(oneId).ski > createShipTlsContext(otherId).ski
        ? [oneId, otherId]
        : [otherId, oneId];
    device = createShipTlsContext(deviceId);
    stranger = createShipTlsContext(strangerId);
    hub = await startHub({ tls: createShipTlsContext(hubId), shipId: 'refusal-hub' });
    const legacyTls = createShipTlsContext(legacyId);
    legacyHub = await startHub({
      tls: legacyTls,
      shipId: 'refusal-legacy-hub',
      hub: { doubleConnectionRule: 'legacy', trusted: [{ ski: device.ski }] },
    });
    // The paired device in data exchange with the legacy hub, whose duplicates are refused.
    paired = await connectShip({
      host: HOST,
      port: legacyHub.listeningPort ?? 0,
      tls: device,
      localSki: device.ski,
      localShipId: 'refusal-device',
      expectedSki: legacyTls.ski,
      clock: systemClock,
    });
    if (!paired.isDataChannelOpen) {
      await new Promise<void>((resolve) => paired.once('dataChannelOpen', () => resolve()));
    }
  });

  after(async () => {
    await paired.close('unspecific');
    await Promise.all([hub.stop(), legacyHub.stop()]);
    trap.dispose();
  });

  for (const [kind, frame] of Object.entries(BAD_FRAMES)) {
    it(`no subprotocol, then ${kind}`, async () => {
      const c = await rawShipClient(hub.listeningPort ?? 0, stranger, { protocols: [] });
      c.socket.write(frame);
      const outcome = await c.closed;
      assert.equal(outcome.code, 1002, 'refused with 1002');
      await socketClosed(c.socket);
      assert.deepEqual(trap.errors, []);
    });

    it(`refused duplicate (legacy rule), then ${kind}`, async () => {
      const c = await rawShipClient(legacyHub.listeningPort ?? 0, device);
      c.socket.write(frame);
      const outcome = await c.closed;
      assert.notEqual(outcome.code, 1006, 'a close frame was sent');
      await socketClosed(c.socket);
      assert.deepEqual(trap.errors, []);
      assert.equal(paired.isClosed, false, 'the paired device is still connected');
      assert.equal(paired.isDataChannelOpen, true);
    });
  }
});
