/**
 * Static peers over real TLS on 127.0.0.1 (issue 12): a daemon with mDNS off dials a device it
 * trusts at the address in the config's `peers`, and a device added with
 * `trust add --address` (its trust entry's `address`) the same way.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createHub } from '../../src/hub/create-hub.js';
import type { Hub } from '../../src/hub/hub.js';
import { Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import { saveIdentity, type NodeIdentity } from '../../src/trust/identity.js';
import { TrustStore } from '../../src/trust/trust-store.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A device on 127.0.0.1 that trusts `hubSki`; resolves once it is in data exchange with it. */
async function device(identity: NodeIdentity, hubSki: string) {
  const hub = await createHub({
    identity,
    shipId: 'static-device',
    port: 0,
    host: '127.0.0.1',
    mdns: false,
    trusted: [{ ski: hubSki }],
  });
  const connected = new Promise<string>((resolve) =>
    hub.once('connected', (remote) => resolve(remote.direction)),
  );
  const port = await hub.start();
  return { hub, port, connected };
}

async function stopped(hub: Hub): Promise<void> {
  await hub.stop(2_000);
}

describe('static peers (mDNS off, real TLS on 127.0.0.1)', () => {
  it("dials a trusted device at the config's peers address", async () => {
    const hubIdentity = await testIdentity('static-hub');
    const deviceIdentity = await testIdentity('static-device');
    const peer = await device(deviceIdentity, hubIdentity.ski);
    const config = await tempDaemonConfig('ship-hub-static-', dirs, {
      log_level: 'silent',
      peers: [`${deviceIdentity.ski}@127.0.0.1:${peer.port}`],
    });
    await saveIdentity(hubIdentity, config.certificate_file, config.private_key_file);
    const trust = await TrustStore.open(config.trusted_devices_file, { clock: systemClock });
    await trust.add({ ski: deviceIdentity.ski });
    const daemon = new Daemon({
      config,
      logger: createLogger({ level: 'silent', format: 'json' }),
    });
    await daemon.start();
    try {
      // The device sees the hub's connection as inbound: the daemon dialled it.
      assert.equal(await peer.connected, 'inbound');
    } finally {
      await daemon.stop();
      await stopped(peer.hub);
    }
  });

  it('dials a device whose trust entry holds an address', async () => {
    const hubIdentity = await testIdentity('static-hub-2');
    const deviceIdentity = await testIdentity('static-device-2');
    const peer = await device(deviceIdentity, hubIdentity.ski);
    const config = await tempDaemonConfig('ship-hub-static-', dirs, { log_level: 'silent' });
    await saveIdentity(hubIdentity, config.certificate_file, config.private_key_file);
    const trust = await TrustStore.open(config.trusted_devices_file, { clock: systemClock });
    await trust.add({ ski: deviceIdentity.ski, address: `127.0.0.1:${peer.port}` });
    const daemon = new Daemon({
      config,
      logger: createLogger({ level: 'silent', format: 'json' }),
    });
    await daemon.start();
    try {
      assert.equal(await peer.connected, 'inbound');
    } finally {
      await daemon.stop();
      await stopped(peer.hub);
    }
  });
});
