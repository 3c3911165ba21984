/**
 * Two `ship-hub` daemons as child processes on 127.0.0.1, mDNS off, each given the other as a
 * static peer (`peers`) and as a trusted device (issue 13 item 7): they connect over real TLS,
 * each answers the other's SPINE discovery as an energy manager, and `ship-hub devices --json`
 * run against each shows the other as trusted, connected and described on the SPINE side (device
 * type, device address, use cases, manufacturer). Waits on the daemons' log lines only.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/ops/config.js';
import type { Ski } from '../../src/ship/ski.js';
import { saveIdentity, type NodeIdentity } from '../../src/trust/identity.js';
import { TrustStore } from '../../src/trust/trust-store.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/ports.js';

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const children = new Set<ChildProcess>();
const dirs: string[] = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Node {
  readonly name: string;
  readonly identity: NodeIdentity;
  readonly dir: string;
  readonly port: number;
}

async function node(name: string): Promise<Node> {
  const dir = mkdtempSync(join(tmpdir(), `ship-hub-two-${name}-`));
  dirs.push(dir);
  return { name, identity: await testIdentity(`two-daemons-${name}`), dir, port: await freePort() };
}

/** Writes the config (the other as static peer), our identity and the trust file. */
async function configure(self: Node, other: Node): Promise<void> {
  const file = join(self.dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      port: self.port,
      admin_port: await freePort(),
      mdns_enabled: false,
      log_format: 'json',
      ship_id: `ShipHub-${self.name}`,
      device_brand: 'ShipHub',
      device_model: `Gateway ${self.name}`,
      device_type: 'EnergyManager',
      peers: [`${other.identity.ski}@127.0.0.1:${other.port}`],
    }),
  );
  const cfg = await loadConfig(file);
  await saveIdentity(self.identity, cfg.certificate_file, cfg.private_key_file);
  const trust = await TrustStore.open(cfg.trusted_devices_file, { clock: systemClock });
  await trust.add({ ski: other.identity.ski });
}

type Running = DaemonProcess;

function start(self: Node): Running {
  return startDaemonProcess(MAIN, self.dir, children);
}

function devicesJson(self: Node): Array<Record<string, unknown>> {
  const result = spawnSync(
    process.execPath,
    [MAIN, 'devices', '--json', '--config', 'config.json'],
    { cwd: self.dir, encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(result.status, 0, result.stderr);
  // The JSON goes to stdout; where it acted ("through the daemon at …") to stderr.
  assert.match(result.stderr, /through the daemon at http:\/\/127\.0\.0\.1:\d+/);
  return JSON.parse(result.stdout) as Array<Record<string, unknown>>;
}

describe('two daemons with static peers (real TLS on 127.0.0.1, mDNS off)', () => {
  it(
    'connect, speak SPINE, and each shows the other in ship-hub devices --json',
    {
      timeout: 90_000,
    },
    async () => {
      const a = await node('A');
      const b = await node('B');
      await configure(a, b);
      await configure(b, a);
      const runA = start(a);
      const runB = start(b);
      try {
        // Each daemon logs the other's SPINE use cases once its discovery and use case data
        // arrived (the 📋 line); the manufacturer data is read in the same sequence (§7.1).
        const useCasesOf = (run: Running, ski: Ski, index: number) =>
          run.line(
            (l) => l.event === 'spine_use_cases' && l.ski === ski,
            `use-cases line ${index + 1} of ${ski}`,
            index,
          );

        for (const [self, run, other] of [
          [a, runA, b],
          [b, runB, a],
        ] as const) {
          // Both dial: when the double-connection rule (SHIP §12.2.2) replaces a connection that
          // already spoke SPINE, the new one's session learns the device again. Ask after each
          // 📋 line until the view has it (a bounded count of sessions, never a sleep).
          let rows: Array<Record<string, unknown>> = [];
          for (let session = 0; session < 5; session++) {
            await useCasesOf(run, other.identity.ski, session);
            rows = devicesJson(self);
            const details = rows[0]?.spine_details as { discovered?: boolean } | undefined;
            if (details?.discovered === true) break;
          }
          assert.equal(rows.length, 1, JSON.stringify(rows));
          const [row] = rows;
          assert.equal(row!.ski, other.identity.ski);
          assert.equal(row!.trusted, 'yes');
          assert.match(String(row!.connection), /^(inbound|outbound), /);
          assert.match(String(row!.spine), /^EnergyManagementSystem, \d+ use cases?, heartbeat /);
          const details = row!.spine_details as {
            discovered: boolean;
            deviceType: string;
            deviceAddress: string;
            useCases: Array<{ actor: string; name: string }>;
          };
          assert.equal(details.discovered, true);
          assert.equal(details.deviceType, 'EnergyManagementSystem');
          // Our device address: d:_n:<brand>_<model>-<serial> (spine-protocol.md §4.1).
          assert.match(details.deviceAddress, new RegExp(`^d:_n:ShipHub_Gateway${other.name}-`));
          // The daemon announces itself as a monitoring appliance for MPC and MGCP.
          assert.deepEqual(details.useCases.map((u) => `${u.actor}/${u.name}`).sort(), [
            'MonitoringAppliance/monitoringOfGridConnectionPoint',
            'MonitoringAppliance/monitoringOfPowerConsumption',
          ]);
        }
      } finally {
        runA.child.kill('SIGTERM');
        runB.child.kill('SIGTERM');
        assert.deepEqual(await Promise.all([runA.exited, runB.exited]), [0, 0]);
      }
    },
  );
});
