import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { browseNote, formatHuman, runDiscover } from '../../../src/cli/commands/discover.js';
import type { SpineDeviceSummary } from '../../../src/hub/spine-summary.js';
import { ServiceTable } from '../../../src/mdns/service-table.js';
import { buildShipTxt } from '../../../src/mdns/txt.js';
import type { DiscoveredService, MdnsProvider } from '../../../src/mdns/types.js';
import { toSki } from '../../../src/ship/ski.js';
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

async function discover(options: {
  json: boolean;
  trusted: string[];
  spine?: ReadonlyMap<string, SpineDeviceSummary>;
}) {
  const clock = new FakeClock();
  const provider = fakeProvider(clock);
  const lines: string[] = [];
  const notes: string[] = [];
  const done = runDiscover({
    provider: 'auto',
    interfaces: ['lo'],
    timeoutMs: 2_000,
    json: options.json,
    trustedSkis: new Set(options.trusted),
    ownSki: OWN.toUpperCase(),
    write: (line) => lines.push(line),
    writeNote: (line) => notes.push(line),
    clock,
    createProvider: async () => provider,
    ...(options.spine === undefined ? {} : { spine: options.spine }),
  });
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(2_000);
  const code = await done;
  return { code, lines, notes, provider };
}

/** What a daemon's SPINE session says of the peer; its strings try to drive the terminal. */
const PEER_SPINE: SpineDeviceSummary = {
  session: 'running',
  discovered: true,
  deviceAddress: 'd:_i:1_Vitocal',
  deviceType: 'HeatPumpAppliance',
  entities: [],
  useCases: [
    { actor: 'MonitoredUnit\x1b[2J', name: 'monitoringOfPowerConsumption', scenarios: [1, 2, 3] },
  ],
  heartbeat: { state: 'ok' },
  monitoring: [],
  relations: { ours: 2, oursRefused: 0, theirSubscriptions: 2, theirBindings: 0 },
};

describe('runDiscover', () => {
  it('prints the seed-style listing with trust state', async () => {
    const { code, lines, provider } = await discover({ json: false, trusted: [] });
    assert.equal(code, 0);
    assert.ok(provider.closed);
    // Our own announcement is listed (🏠 This hub) but not counted as a discovered device.
    assert.equal(lines[0], '📡 Discovered 1 devices');
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

  it('says how it browsed: the provider that ran, the interfaces and the duration', async () => {
    const { lines, notes } = await discover({ json: false, trusted: [] });
    const expected = '(browsed _ship._tcp for 2 s with the builtin mDNS provider on interface lo)';
    assert.deepEqual(notes, [expected]);
    assert.ok(!lines.includes(expected), 'the note goes to writeNote only');
    assert.equal(
      browseNote('avahi', undefined, 3_000),
      '(browsed _ship._tcp for 3 s with the avahi mDNS provider on every interface)',
    );
    assert.equal(
      browseNote('builtin', ['eth0', 'wlan\x1b0'], 500),
      '(browsed _ship._tcp for 0.5 s with the builtin mDNS provider on interfaces eth0, wlan\\x1b0)',
    );
  });

  it("shows the running daemon's SPINE view of a device next to its record, escaped", async () => {
    const spine = new Map([[PEER, PEER_SPINE]]);
    const human = await discover({ json: false, trusted: [PEER], spine });
    const line = human.lines.find((l) => l.startsWith('    🔌 SPINE: '));
    assert.equal(
      line,
      '    🔌 SPINE: HeatPumpAppliance, 1 use case, heartbeat ok (MonitoredUnit\\x1b[2J/monitoringOfPowerConsumption)',
    );
    // Only the device in data exchange has one; our own record has none.
    assert.equal(human.lines.filter((l) => l.includes('SPINE')).length, 1);
    const json = await discover({ json: true, trusted: [PEER], spine });
    const objects = json.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(objects.find((o) => o.ski === PEER)!.spine, {
      deviceType: 'HeatPumpAppliance',
      useCases: ['MonitoredUnit\x1b[2J/monitoringOfPowerConsumption'],
    });
    assert.equal(objects.find((o) => o.ski === OWN)!.spine, null);
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

/** A device whose every announced string tries to drive the terminal. */
const HOSTILE: DiscoveredService = {
  instanceName: 'Evil\x1b[2J instance',
  hostName: 'evil\x1b]0;title\x07.local',
  port: 4712,
  addresses: [{ address: '192.168.1.66\u202e', family: 4 }],
  record: {
    txtvers: 1,
    shipId: 'EVIL-\rSKI: 0000',
    path: '/ship/',
    ski: toSki(PEER),
    announcedSki: PEER,
    register: false,
    brand: 'Evil\x1b[2JCorp',
    model: 'M\u009b2J',
    type: 'Heat\nPump',
    serial: 'S\x00',
    extra: {},
  },
  ski: toSki(PEER),
  provider: 'builtin',
  own: false,
};

// eslint-disable-next-line no-control-regex -- the tests look for control characters
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('discover output escapes what devices announce', () => {
  it('the human listing shows control and bidi characters as escapes', () => {
    const lines = formatHuman([HOSTILE], () => false);
    assert.deepEqual(lines, [
      '📡 Discovered 1 devices',
      '  📱 a1b2c3d4e5f6...: Evil\\x1b[2JCorp M\\x9b2J (192.168.1.66\\u202e)',
      `    type Heat\\x0aPump · SHIP ID EVIL-\\x0dSKI: 0000 · SKI ${PEER} · register=false`,
      '    192.168.1.66\\u202e:4712 (evil\\x1b]0;title\\x07.local)',
      '    🔒 Unknown device',
    ]);
    for (const line of lines) assert.doesNotMatch(line, CONTROL_OR_BIDI);
  });

  it('--json lines hold no control or bidi character and parse to the announced values', async () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    const done = runDiscover({
      provider: 'auto',
      timeoutMs: 1_000,
      json: true,
      trustedSkis: new Set(),
      write: (line) => lines.push(line),
      clock,
      createProvider: async () => ({
        name: 'builtin',
        start: async () => undefined,
        announce: async () => undefined,
        unannounce: async () => undefined,
        onService: () => () => undefined,
        services: () => [HOSTILE],
        close: async () => undefined,
      }),
    });
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1_000);
    assert.equal(await done, 0);
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, CONTROL_OR_BIDI);
    const parsed = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(parsed.brand, 'Evil\x1b[2JCorp');
    assert.equal(parsed.model, 'M\u009b2J');
    assert.deepEqual(parsed.addresses, ['192.168.1.66\u202e']);
  });
});
