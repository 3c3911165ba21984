import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runDiscover } from '../../../src/cli/commands/discover.js';
import { ServiceTable } from '../../../src/mdns/service-table.js';
import { buildShipTxt } from '../../../src/mdns/txt.js';
import type { MdnsProvider } from '../../../src/mdns/types.js';
import { FakeClock } from './fake-clock.js';

const PEER = 'a1b2c3d4e5f60718293a4b5c6d7e8f9001234567';
const OWN = 'b467a3999eb5efa671de0032f08a9c9e5efda0e1';

function fakeProvider(clock: FakeClock): MdnsProvider & { closed: boolean } {
  const table = new ServiceTable({ provider: 'builtin' });
  const provider = {
    name: 'builtin' as const,
    closed: false,
    start: async () => {
      clock.setTimer('peer-appears', 500, () => {
        table.observe('Viessmann Vitocaldens', 'eth0', {
          hostName: 'vitocal.local.',
          port: 4712,
          txt: buildShipTxt({
            shipId: 'VIESSMANN-1',
            ski: PEER,
            brand: 'Viessmann',
            model: 'Vitocaldens',
            type: 'HeatPump',
            register: true,
          }),
          addresses: [
            { address: 'fe80::1', family: 6, interfaceName: 'eth0' },
            { address: '192.168.1.100', family: 4, interfaceName: 'eth0' },
          ],
        });
        table.observe('hub', 'eth0', {
          port: 4712,
          txt: buildShipTxt({
            shipId: 'HUB',
            ski: OWN,
            brand: 'ship-hub',
            model: 'hub',
            type: 'EnergyManagementSystem',
            register: false,
          }),
          addresses: [{ address: '192.168.1.2', family: 4 }],
        });
      });
    },
    announce: async () => undefined,
    unannounce: async () => undefined,
    onService: (listener: Parameters<MdnsProvider['onService']>[0]) => table.onService(listener),
    services: () => table.services(),
    close: async () => {
      provider.closed = true;
    },
  };
  return provider;
}

async function discover(options: { json: boolean; trusted: string[] }) {
  const clock = new FakeClock();
  const provider = fakeProvider(clock);
  const lines: string[] = [];
  const done = runDiscover({
    provider: 'auto',
    timeoutMs: 2_000,
    json: options.json,
    trustedSkis: new Set(options.trusted),
    ownSki: OWN.toUpperCase(),
    write: (line) => lines.push(line),
    clock,
    createProvider: async () => provider,
  });
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(2_000);
  const code = await done;
  return { code, lines, provider };
}

describe('runDiscover', () => {
  it('prints the seed-style listing with trust state', async () => {
    const { code, lines, provider } = await discover({ json: false, trusted: [] });
    assert.equal(code, 0);
    assert.ok(provider.closed);
    assert.equal(lines[0], '📡 Discovered 2 devices');
    assert.ok(
      lines.includes('  📱 a1b2c3d4e5f6...: Viessmann Vitocaldens (192.168.1.100)'),
      lines.join('\n'),
    );
    assert.ok(lines.includes('    🔒 Unknown device'));
    assert.ok(lines.includes('    🏠 This hub'));
    assert.ok(
      lines.some(
        (l) =>
          l.includes('type HeatPump') &&
          l.includes('SHIP ID VIESSMANN-1') &&
          l.includes('register=true'),
      ),
    );
    assert.ok(lines.includes('    192.168.1.100:4712, [fe80::1%eth0]:4712 (vitocal.local)'));
  });

  it('marks trusted SKIs (any notation) and prints JSON lines', async () => {
    const { lines } = await discover({
      json: true,
      trusted: [PEER.toUpperCase().match(/.{4}/g)!.join(' ')],
    });
    assert.equal(lines.length, 2);
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const peer = objects.find((o) => o.ski === PEER)!;
    assert.equal(peer.trusted, true);
    assert.equal(peer.own, false);
    assert.equal(peer.brand, 'Viessmann');
    assert.equal(peer.register, true);
    assert.deepEqual(peer.addresses, ['192.168.1.100', 'fe80::1%eth0']);
    assert.equal(objects.find((o) => o.ski === OWN)!.own, true);
  });
});
