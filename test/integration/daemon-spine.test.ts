/**
 * The daemon speaks SPINE by default (issue 13 item 6), over real TLS on 127.0.0.1: a device
 * built with createHub (its default SPINE driver, announced as a heat pump with an MPC use case)
 * is dialled as a static peer; each side reads the other's detailed discovery, use cases and
 * manufacturer data (spine-protocol.md §7.1), the daemon logs what it learnt and serves it on
 * GET /api/devices and /api/devices/:ski, and counts SPINE messages in /metrics. Waits on log
 * lines and hub events only. A heat pump offering MPC is monitored: its values reach the log,
 * the admin API and the hub's `measurements` events (spine-protocol.md §11.2).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createHub } from '../../src/hub/create-hub.js';
import { AdminClient } from '../../src/ops/admin-client.js';
import type { HubConfigInput } from '../../src/ops/config.js';
import { Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import type { SpineSessionEvent } from '../../src/spine/session/types.js';
import type { NodeIdentity } from '../../src/trust/identity-issue.js';
import { saveIdentity } from '../../src/trust/identity.js';
import { TrustStore } from '../../src/trust/trust-store.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';
import { freePort } from '../helpers/ports.js';
import { HEAT_PUMP, HEAT_PUMP_DATA, HEAT_PUMP_USE_CASES } from '../helpers/spine-heat-pump.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A JSON logger whose lines can be awaited by their `event` field. */
function watchedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  let waiters: Array<{ event: string; resolve: (line: Record<string, unknown>) => void }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text.trim() === '') continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        waiters = waiters.filter((waiter) => {
          if (line.event !== waiter.event) return true;
          waiter.resolve(line);
          return false;
        });
      }
      done();
    },
  });
  return {
    logger: createLogger({ level: 'info', format: 'json', destination: stream }),
    lines,
    /** The first line with this event, logged already or later. */
    line(event: string): Promise<Record<string, unknown>> {
      const seen = lines.find((l) => l.event === event);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ event, resolve }));
    },
  };
}

/**
 * A daemon on loopback that trusts the device and dials it as a static peer at `devicePort`
 * (mDNS off), logging JSON into a watched logger.
 */
async function startDaemon(
  hubIdentity: NodeIdentity,
  deviceIdentity: NodeIdentity,
  devicePort: number,
  extra: HubConfigInput = {},
) {
  const watched = watchedLogger();
  const config = await tempDaemonConfig('ship-hub-spine-', dirs, {
    log_level: 'info',
    admin_port: await freePort(),
    peers: [`${deviceIdentity.ski}@127.0.0.1:${devicePort}`],
    ...extra,
  });
  await saveIdentity(hubIdentity, config.certificate_file, config.private_key_file);
  const trust = await TrustStore.open(config.trusted_devices_file, { clock: systemClock });
  await trust.add({ ski: deviceIdentity.ski });
  const daemon = new Daemon({ config, logger: watched.logger });
  await daemon.start();
  return { watched, config, daemon };
}

describe('daemon with SPINE (static peer, real TLS on 127.0.0.1)', () => {
  it('answers and reads a device, logs it and serves it on the admin API', async () => {
    const hubIdentity = await testIdentity('spine-daemon');
    const deviceIdentity = await testIdentity('spine-device');

    const device = await createHub({
      identity: deviceIdentity,
      shipId: 'Vaillant-aroTHERM-42',
      port: 0,
      host: '127.0.0.1',
      mdns: false,
      trusted: [{ ski: hubIdentity.ski }],
      announce: { brand: 'Vaillant', model: 'aroTHERM', type: 'HeatPump', serial: '42' },
      spine: {
        useCases: [
          {
            entity: [1],
            actor: 'MonitoredUnit',
            useCaseName: 'monitoringOfPowerConsumption',
            scenarios: [1, 2, 3],
          },
        ],
      },
    });
    const deviceEvents: SpineSessionEvent[] = [];
    const hubManufacturer = new Promise<void>((resolve) => {
      device.on('spine', (_ski, event) => {
        deviceEvents.push(event);
        if (
          event.kind === 'dataUpdated' &&
          event.function === 'deviceClassificationManufacturerData'
        )
          resolve();
      });
    });
    const devicePort = await device.start();

    const { watched, config, daemon } = await startDaemon(hubIdentity, deviceIdentity, devicePort, {
      device_brand: 'AcmeEnergy',
      device_model: 'Smart Gateway',
      device_type: 'EnergyManager',
      device_serial: 'G-1',
    });
    try {
      // The daemon read the device: its discovery, then its use cases.
      const discovered = await watched.line('spine_discovered');
      assert.equal(discovered.ski, deviceIdentity.ski);
      assert.equal(discovered.device_type, 'Generic'); // "HeatPump" is no DeviceTypeType
      assert.match(String(discovered.msg), /^🔌 SPINE [0-9a-f]{12}\.\.\.: Generic d:_n:Vaillant_/);
      // The JSON field counts what the message counts (entity 0 is NodeManagement's).
      const counted = /with (\d+) entit/.exec(String(discovered.msg))?.[1];
      assert.equal(String(discovered.entities), counted);
      const useCases = await watched.line('spine_use_cases');
      assert.deepEqual(useCases.use_cases, ['monitoringOfPowerConsumption']);
      assert.match(String(useCases.msg), /monitoringOfPowerConsumption \(MonitoredUnit\)/);

      // The device read the daemon: an energy manager with the configured brand.
      await hubManufacturer;
      const ours = deviceEvents.find((e) => e.kind === 'discovered');
      assert.ok(ours?.kind === 'discovered');
      assert.equal(ours.device.type, 'EnergyManagementSystem');
      // No space in a SPINE address (§4.1 pattern): the configured model's space is left out.
      assert.equal(ours.device.device, 'd:_n:AcmeEnergy_SmartGateway-G-1');
      const seen = device.spine?.summary(hubIdentity.ski);
      assert.equal(seen?.manufacturer?.brandName, 'AcmeEnergy');
      assert.equal(seen?.manufacturer?.deviceCode, config.ship_id);

      // The admin API serves what the daemon learnt.
      const client = AdminClient.fromConfig(config);
      const one = await client.device(deviceIdentity.ski);
      assert.equal(one.spine.deviceType, 'Generic');
      assert.equal(one.spine.manufacturer?.brandName, 'Vaillant');
      assert.deepEqual(
        one.spine.useCases?.map((u) => `${u.actor}/${u.name}`),
        ['MonitoredUnit/monitoringOfPowerConsumption'],
      );
      assert.ok(one.spine.entities.some((e) => e.type === 'CEM'));
      const all = await client.listDevices();
      assert.deepEqual(
        all.map((d) => d.ski),
        [deviceIdentity.ski],
      );
      await assert.rejects(client.device(hubIdentity.ski), { status: 404 });

      const metrics = await client.metrics();
      const received = /shiphub_spine_messages_total\{direction="received"\} (\d+)/.exec(metrics);
      const sent = /shiphub_spine_messages_total\{direction="sent"\} (\d+)/.exec(metrics);
      assert.ok(Number(received?.[1]) >= 3, metrics);
      assert.ok(Number(sent?.[1]) >= 3, metrics);
    } finally {
      await daemon.stop();
      await device.stop(2_000);
    }
  });

  it('monitors a heat pump that offers MPC: live values in the log, the admin API and events', async () => {
    const hubIdentity = await testIdentity('spine-daemon-mpc');
    const deviceIdentity = await testIdentity('spine-heat-pump');
    const device = await createHub({
      identity: deviceIdentity,
      shipId: 'HeatPump-MPC',
      port: 0,
      host: '127.0.0.1',
      mdns: false,
      trusted: [{ ski: hubIdentity.ski }],
      spine: { localDevice: HEAT_PUMP, useCases: HEAT_PUMP_USE_CASES, serverData: HEAT_PUMP_DATA },
    });
    const devicePort = await device.start();
    const { watched, config, daemon } = await startDaemon(hubIdentity, deviceIdentity, devicePort);
    try {
      const line = await watched.line('spine_monitoring');
      assert.equal(line.ski, deviceIdentity.ski);
      assert.equal(line.use_case, 'monitoringOfPowerConsumption');
      assert.match(String(line.msg), /monitoring MPC on \[1\] HeatPumpAppliance: power 1234\.56 W/);

      const client = AdminClient.fromConfig(config);
      const { spine } = await client.device(deviceIdentity.ski);
      const [monitored] = spine.monitoring;
      assert.equal(monitored?.useCase, 'monitoringOfPowerConsumption');
      assert.deepEqual(
        monitored?.measurements.map((m) => [m.scope, m.phases, m.value, m.unit]),
        [
          ['acPowerTotal', 'abc', 1234.56, 'W'],
          ['acPower', 'a', 410, 'W'],
          ['acEnergyConsumed', undefined, 987650, 'Wh'],
        ],
      );
      // The heat pump sees the daemon announce itself as a monitoring appliance (§5.4).
      const seen = device.spine?.summary(hubIdentity.ski);
      assert.ok(
        seen?.useCases?.some(
          (u) => u.actor === 'MonitoringAppliance' && u.name === 'monitoringOfPowerConsumption',
        ),
        JSON.stringify(seen?.useCases),
      );
    } finally {
      await daemon.stop();
      await device.stop(2_000);
    }
  });
});
