/**
 * The daemon's terminal pairing prompt (the seed's question), in process: the device's real
 * brand, model and type come from its mDNS record; the answer is typed on the injected stdin;
 * nothing blocks while the question is open (the hub keeps the device waiting).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { connectShip } from '../../src/transport/ship-client.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import { terminalPairingPrompt } from '../../src/cli/pairing-prompt.js';
import { Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { StaticDiscovery, serviceAt } from '../helpers/static-discovery.js';
import type { Ski } from '../../src/ship/ski.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function discoveryWith(ski: Ski): StaticDiscovery {
  return new StaticDiscovery([
    serviceAt(ski, 4712, {
      address: '192.0.2.10',
      shipId: 'Viessmann-Vitocal-1',
      brand: 'Viessmann',
      model: 'Vitocal',
      type: 'HeatPump',
    }),
  ]);
}

describe('terminal pairing prompt', () => {
  it('asks the seed question with brand, model and type, and approves on "yes"', async () => {
    const config = await tempDaemonConfig('ship-hub-prompt-', dirs, { log_level: 'silent' });
    const device = await testIdentity('prompt-device');
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
    const daemon = new Daemon({
      config,
      logger: createLogger({ level: 'silent', format: 'json' }),
      discovery: discoveryWith(device.ski),
    });
    await daemon.start();
    daemon.attachPairingQuestions((target) => terminalPairingPrompt(target, input, output));
    try {
      const connection = await connectShip({
        host: '127.0.0.1',
        port: daemon.port!,
        expectedSki: daemon.ski!,
        tls: createShipTlsContext(device),
        localSki: device.ski,
        localShipId: 'Viessmann-Vitocal-1',
        clock: systemClock,
      });
      for (let polls = 0; !shown.includes('(yes/no)') && polls < 3_000; polls++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.match(shown, /🔒 Device Pairing Request/);
      assert.match(shown, new RegExp(`SKI: ${device.ski}`));
      assert.match(shown, /Brand: Viessmann\nModel: Vitocal\nType: HeatPump/);
      assert.match(shown, /Do you want to trust this device\? \(yes\/no\): $/);
      // An unclear answer asks again; "yes" approves.
      input.write('maybe\n');
      input.write('yes\n');
      await new Promise<void>((resolve) => connection.once('complete', () => resolve()));
      // The trust file is written after the approval (coalesced): wait until it holds the device.
      for (
        let polls = 0;
        polls < 3_000 &&
        !(
          existsSync(config.trusted_devices_file) &&
          readFileSync(config.trusted_devices_file, 'utf8').includes(device.ski)
        );
        polls++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const saved = JSON.parse(readFileSync(config.trusted_devices_file, 'utf8')) as Record<
        string,
        { brand: string; model: string; device_type: string }
      >;
      assert.deepEqual(
        {
          brand: saved[device.ski]?.brand,
          model: saved[device.ski]?.model,
          device_type: saved[device.ski]?.device_type,
        },
        { brand: 'Viessmann', model: 'Vitocal', device_type: 'HeatPump' },
      );
      await connection.close();
    } finally {
      await daemon.stop();
    }
  });

  it("shows a device's brand, model and type with their escape sequences escaped", async () => {
    const config = await tempDaemonConfig('ship-hub-prompt-', dirs, { log_level: 'silent' });
    const device = await testIdentity('prompt-evil-device');
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    // Resolves on the output event that completes the question: no polling.
    const asked = new Promise<void>((resolve) => {
      output.on('data', (chunk: Buffer) => {
        shown += chunk.toString();
        if (shown.includes('(yes/no)')) resolve();
      });
    });
    const daemon = new Daemon({
      config,
      logger: createLogger({ level: 'silent', format: 'json' }),
      discovery: new StaticDiscovery([
        serviceAt(device.ski, 4712, {
          address: '192.0.2.11',
          brand: 'Evil\x1b[2JCorp',
          model: 'M\rSKI: 0000',
          type: 'Heat\u202ePump',
        }),
      ]),
    });
    await daemon.start();
    daemon.attachPairingQuestions((target) => terminalPairingPrompt(target, input, output));
    try {
      const connection = await connectShip({
        host: '127.0.0.1',
        port: daemon.port!,
        expectedSki: daemon.ski!,
        tls: createShipTlsContext(device),
        localSki: device.ski,
        localShipId: 'evil-1',
        clock: systemClock,
      });
      await asked;
      assert.match(
        shown,
        /Brand: Evil\\x1b\[2JCorp\nModel: M\\x0dSKI: 0000\nType: Heat\\u202ePump\n/,
      );
      // eslint-disable-next-line no-control-regex -- looking for control characters
      assert.doesNotMatch(shown.replaceAll('\n', ''), /[\u0000-\u001f\u202a-\u202e]/);
      const closed = new Promise<void>((resolve) => connection.once('closed', () => resolve()));
      input.write('no\n');
      await closed;
    } finally {
      await daemon.stop();
    }
  });
});
