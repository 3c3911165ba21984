/**
 * Key pinning with accept_legacy_ski: a legacy certificate is identified by the SKI it claims,
 * and SKIs are public (mDNS), so without a pin anyone could pass as a paired device. The key a
 * paired device first connects with is stored with its trust entry; another key claiming that
 * SKI is refused before the handshake, and the device itself stays connected. In process, over
 * 127.0.0.1.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { connectShip } from '../../src/transport/ship-client.js';
import type { ShipConnection } from '../../src/transport/ship-connection.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import { Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import type { HubConfig } from '../../src/ops/config.js';
import { systemClock } from '../../src/util/clock.js';
import { certificateClaiming, testCertificate, type TestCertificate } from '../helpers/certs.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function connect(daemon: Daemon, cert: TestCertificate): Promise<ShipConnection> {
  return connectShip({
    host: '127.0.0.1',
    port: daemon.port!,
    expectedSki: daemon.ski!,
    tls: createShipTlsContext(cert),
    localSki: cert.ski,
    localShipId: `device-${cert.ski.slice(0, 6)}`,
    clock: systemClock,
    acceptLegacySki: true,
  });
}

function complete(connection: ShipConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    connection.once('complete', () => resolve());
    connection.once('closed', (info) =>
      reject(new Error(`closed before data exchange: ${info.failure?.message ?? 'no reason'}`)),
    );
  });
}

/** The pinned key in the trust file, polled a bounded number of times (the write is async). */
async function pinnedKey(config: HubConfig, ski: string): Promise<string | undefined> {
  for (let polls = 0; polls < 3_000; polls++) {
    const saved = JSON.parse(readFileSync(config.trusted_devices_file, 'utf8')) as Record<
      string,
      { public_key_sha256?: string }
    >;
    const pin = saved[ski]?.public_key_sha256;
    if (pin !== undefined) return pin;
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

describe('key pinning (accept_legacy_ski)', () => {
  it(
    'an impostor claiming a paired SKI with another key is refused, before and after a restart',
    { timeout: 90_000 },
    async () => {
      const config = await tempDaemonConfig('ship-hub-pinning-', dirs, {
        accept_legacy_ski: true,
        log_level: 'silent',
      });
      const device = await testCertificate('legacy');
      // Paired before pins existed: the entry has no key yet.
      mkdirSync(dirname(config.trusted_devices_file), { recursive: true });
      const entry = {
        ski: device.ski,
        brand: 'evcc',
        model: 'legacy',
        device_type: 'EVSE',
        paired_at: '2026-01-01T00:00:00Z',
        last_connection: '2026-01-01T00:00:00Z',
        connection_count: 0,
      };
      writeFileSync(config.trusted_devices_file, JSON.stringify({ [device.ski]: entry }));

      const logger = createLogger({ level: 'silent', format: 'json' });
      let daemon = new Daemon({ config, logger });
      await daemon.start();
      try {
        const genuine = await connect(daemon, device);
        await complete(genuine);
        const pin = await pinnedKey(config, device.ski);
        // The pin is SHA-256 of the EC point: the last 65 bytes of the P-256 SPKI.
        const spki = createPublicKey(device.privateKeyPem).export({ type: 'spki', format: 'der' });
        const expected = createHash('sha256')
          .update(spki.subarray(spki.length - 65))
          .digest('hex');
        assert.equal(pin, expected, 'the key of the first connection is pinned');
        let genuineClosed = false;
        genuine.once('closed', () => (genuineClosed = true));

        const impostor = await certificateClaiming(device.ski);
        assert.equal(impostor.ski, device.ski, 'the impostor claims the paired SKI');
        await assert.rejects(connect(daemon, impostor), 'the impostor does not get a connection');
        assert.equal(genuineClosed, false, 'the paired device was not displaced');
        assert.equal(genuine.subState, 'SME_STATE_COMPLETE');
        await genuine.close();
      } finally {
        await daemon.stop();
      }

      // After a restart the pin comes from the file.
      daemon = new Daemon({ config, logger });
      await daemon.start();
      try {
        const impostor = await certificateClaiming(device.ski);
        await assert.rejects(connect(daemon, impostor));
        const genuine = await connect(daemon, device);
        await complete(genuine);
        await genuine.close();
      } finally {
        await daemon.stop();
      }
    },
  );
});
