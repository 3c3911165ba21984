/**
 * mDNS interop with Debian's avahi-daemon, entirely inside two network namespaces joined by a
 * veth pair (no link to the root namespace; nothing reaches a real interface).
 *
 * For both of our backends (builtin = ciao + multicast-dns, avahi = Avahi over a private D-Bus):
 *  (a) `avahi-browse -rpt _ship._tcp` in the peer namespace sees our announcement with the SHIP
 *      TXT record, our port and an address on the shared link, sees a TXT update, and drops the
 *      service after we stop;
 *  (b) our browser sees what `avahi-publish -s` announces in the peer namespace (TXT parsed,
 *      address, port) and notices its removal.
 * Plus the recovery paths: builtin re-announces after its interface is deleted and re-created
 * (ciao's ENODEV problem), avahi re-registers after avahi-daemon restarts.
 * Our side runs inside its namespace as a child process (test/integration/mdns/*-child.ts) that
 * prints JSON lines. Root only; skipped with a message otherwise.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  cleanupAll,
  createVethLink,
  deleteLink,
  execInNamespace,
  netnsSkipReason,
  recreateVeth,
  spawnInNamespace,
  startPrivateAvahi,
  stopProcess,
  waitForLinkLocal,
  waitUntil,
  type JsonLineChild,
  type PrivateAvahi,
  type VethLink,
} from '../helpers/netns.js';

const SKIP = netnsSkipReason([
  'ip',
  'unshare',
  'avahi-daemon',
  'avahi-browse',
  'avahi-publish',
  'avahi-resolve',
  'dbus-daemon',
]);
if (SKIP !== undefined) console.log(`# mdns-avahi interop skipped: ${SKIP}`);

const ANNOUNCE_CHILD = fileURLToPath(new URL('./mdns/announce-child.js', import.meta.url));
const BROWSE_CHILD = fileURLToPath(new URL('./mdns/browse-child.js', import.meta.url));
const CASE_TIMEOUT_MS = 60_000;

const OUR_SKI = '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567';
const OUR_SHIP_ID = 'CI-DUT-0001';
const OUR_PORT = 4712;
const PEER_SKI = 'ffeeddccbbaa99887766554433221100ffeeddcc';
const EXPECTED_TXT = [
  'txtvers=1',
  'path=/ship/',
  `id=${OUR_SHIP_ID}`,
  `ski=${OUR_SKI}`,
  'brand=ship-hub',
  'model=interop-test',
  'type=EnergyManagementSystem',
  'register=false',
  'serial=0001',
  'cat=2',
];

type Provider = 'builtin' | 'avahi';

function pass(message: string): void {
  console.log(`PASS: ${message}`);
}

interface Fixture {
  provider: Provider;
  link: VethLink;
  peerAvahi: PrivateAvahi;
  ourAvahi: PrivateAvahi | undefined;
  teardown: () => Promise<void>;
}

async function setUp(provider: Provider): Promise<Fixture> {
  const link = createVethLink();
  const started: PrivateAvahi[] = [];
  try {
    await waitForLinkLocal(link.nsA, link.ifA);
    await waitForLinkLocal(link.nsB, link.ifB);
    const peerAvahi = await startPrivateAvahi(link.nsB, link.ifB, `peer${link.prefix}`);
    started.push(peerAvahi);
    const ourAvahi =
      provider === 'avahi'
        ? await startPrivateAvahi(link.nsA, link.ifA, `dut${link.prefix}`)
        : undefined;
    if (ourAvahi !== undefined) started.push(ourAvahi);
    return {
      provider,
      link,
      peerAvahi,
      ourAvahi,
      teardown: async () => {
        for (const avahi of started) await avahi.stop();
        deleteLink(link);
      },
    };
  } catch (error) {
    for (const avahi of started) await avahi.stop();
    deleteLink(link);
    throw error;
  }
}

/** One resolved (`=`) line of `avahi-browse -rpt`. */
interface BrowseRow {
  iface: string;
  protocol: string;
  name: string;
  host: string;
  address: string;
  port: number;
  txt: string[];
}

function parseBrowse(stdout: string): BrowseRow[] {
  const rows: BrowseRow[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('=;')) continue;
    const fields = line.split(';');
    const txtField = fields.slice(9).join(';');
    const txt = [...txtField.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) =>
      m[1]!.replace(/\\(.)/g, '$1'),
    );
    rows.push({
      iface: fields[1]!,
      protocol: fields[2]!,
      name: fields[3]!,
      host: fields[6]!,
      address: fields[7]!,
      port: Number(fields[8]),
      txt,
    });
  }
  return rows;
}

async function avahiBrowse(avahi: PrivateAvahi, resolve: boolean): Promise<string> {
  const result = await execInNamespace(
    avahi.ns,
    ['timeout', '5', 'avahi-browse', resolve ? '-rpt' : '-pt', '_ship._tcp'],
    { DBUS_SYSTEM_BUS_ADDRESS: avahi.busAddress },
    8_000,
  );
  return result.stdout;
}

/** Polls avahi-browse in the peer until our service resolves with `wanted` in its TXT. */
async function waitSeenByPeer(
  fixture: Fixture,
  wanted: string,
  timeoutMs: number,
): Promise<BrowseRow[]> {
  let rows: BrowseRow[] = [];
  await waitUntil(
    async () => {
      rows = parseBrowse(await avahiBrowse(fixture.peerAvahi, true)).filter(
        (r) => r.txt.includes(`ski=${OUR_SKI}`) && r.txt.includes(wanted),
      );
      return rows.length > 0;
    },
    timeoutMs,
    250,
  );
  return rows;
}

function childEnv(fixture: Fixture): Record<string, string> {
  // Without a private Avahi on our side the bus address points nowhere.
  return {
    DBUS_SYSTEM_BUS_ADDRESS:
      fixture.ourAvahi?.busAddress ?? `unix:path=/nonexistent/${fixture.link.prefix}`,
  };
}

function instanceName(fixture: Fixture): string {
  return `ship-hub ${fixture.provider} ${fixture.link.prefix}`;
}

async function startAnnouncer(fixture: Fixture): Promise<JsonLineChild> {
  const { link, provider } = fixture;
  const child = spawnInNamespace(
    link.nsA,
    `dut${link.prefix}`,
    [
      process.execPath,
      ANNOUNCE_CHILD,
      JSON.stringify({
        provider,
        interfaces: [link.ifA],
        lifetimeMs: 55_000,
        ski: OUR_SKI,
        shipId: OUR_SHIP_ID,
        instanceName: instanceName(fixture),
        port: OUR_PORT,
      }),
    ],
    childEnv(fixture),
  );
  const announced = await child.waitFor((l) => l.ev === 'announced' || l.ev === 'error', 20_000);
  assert.equal(
    announced?.ev,
    'announced',
    `child: ${JSON.stringify(child.lines)}\n${child.stderr().slice(-3000)}`,
  );
  assert.equal(child.lines.find((l) => l.ev === 'provider')?.name, provider);
  return child;
}

function assertNoChildErrors(child: JsonLineChild): void {
  const errors = child.lines.filter((l) => l.ev === 'error');
  assert.deepEqual(errors, [], JSON.stringify(errors));
}

after(() => cleanupAll());

describe('mDNS interop with avahi-daemon in network namespaces', { skip: SKIP }, () => {
  for (const provider of ['builtin', 'avahi'] as const) {
    it(
      `${provider}: avahi-browse in the peer sees our announcement and its TXT update, then its removal`,
      { timeout: CASE_TIMEOUT_MS },
      async () => {
        const fixture = await setUp(provider);
        const { link, peerAvahi } = fixture;
        let child: JsonLineChild | undefined;
        try {
          child = await startAnnouncer(fixture);
          const rows = await waitSeenByPeer(fixture, 'register=false', 20_000);
          assert.ok(
            rows.length > 0,
            `avahi-browse did not resolve our service; child stderr:\n${child.stderr().slice(-3000)}`,
          );
          pass(
            `[${provider}] announcement visible in avahi-browse: ${rows.map((r) => `${r.protocol} ${r.address}`).join(', ')}`,
          );

          const row = rows[0]!;
          assert.deepEqual([...row.txt].sort(), [...EXPECTED_TXT].sort());
          pass(`[${provider}] TXT record complete: ${EXPECTED_TXT.join(' ')}`);
          for (const r of rows) assert.equal(r.port, OUR_PORT);
          pass(`[${provider}] port ${OUR_PORT}`);
          const onLink = (address: string) =>
            address === link.ipv4A || address === link.ipv6A || address.startsWith('fe80::');
          for (const r of rows) {
            assert.ok(onLink(r.address), `address ${r.address} is not on the shared link`);
          }
          pass(
            `[${provider}] every resolved address is on the shared link (${[...new Set(rows.map((r) => r.address))].join(', ')})`,
          );
          // avahi-browse resolves one address per row, of either family; ask for both explicitly.
          for (const family of ['-4', '-6'] as const) {
            const resolved = await execInNamespace(
              peerAvahi.ns,
              ['timeout', '5', 'avahi-resolve', family, '-n', row.host],
              { DBUS_SYSTEM_BUS_ADDRESS: peerAvahi.busAddress },
              8_000,
            );
            const address = resolved.stdout.trim().split(/\s+/)[1] ?? '';
            const ok =
              family === '-4'
                ? address === link.ipv4A
                : address === link.ipv6A || address.startsWith('fe80::');
            assert.ok(ok, `avahi-resolve ${family} ${row.host}: "${resolved.stdout.trim()}"`);
            pass(`[${provider}] host ${row.host} resolves (${family}) to ${address}`);
          }

          // announce() again with register=true updates the TXT record in place.
          child.child.kill('SIGUSR2');
          const updated = await child.waitFor(
            (l) => l.ev === 'updated' || l.ev === 'error',
            10_000,
          );
          assert.equal(updated?.ev, 'updated');
          const after = await waitSeenByPeer(fixture, 'register=true', 15_000);
          assert.ok(after.length > 0, 'TXT update (register=true) not seen by avahi-browse');
          pass(`[${provider}] TXT update register=true visible in avahi-browse`);

          const t0 = Date.now();
          const code = await stopProcess(child.child);
          assert.equal(code, 0, `child exit code; lines ${JSON.stringify(child.lines)}`);
          const escapedName = instanceName(fixture).replaceAll(' ', '\\032');
          const gone = await waitUntil(
            async () => {
              const out = await avahiBrowse(peerAvahi, false);
              return !out.split('\n').some((l) => l.startsWith('+;') && l.includes(escapedName));
            },
            10_000,
            250,
          );
          assert.ok(gone, 'avahi-browse still lists our service 10 s after we stopped');
          pass(
            `[${provider}] goodbye: removed from avahi-browse ${Date.now() - t0} ms after SIGTERM`,
          );
          assertNoChildErrors(child);
        } finally {
          if (child !== undefined) await stopProcess(child.child);
          await fixture.teardown();
        }
      },
    );

    it(
      `${provider}: our browser (provider auto) sees avahi-publish in the peer, then its removal`,
      { timeout: CASE_TIMEOUT_MS },
      async () => {
        const fixture = await setUp(provider);
        const { link, peerAvahi } = fixture;
        const browser = spawnInNamespace(
          link.nsA,
          `dut${link.prefix}`,
          [
            process.execPath,
            BROWSE_CHILD,
            // `auto` must pick Avahi when our namespace has it on the bus, else the builtin stack.
            JSON.stringify({ provider: 'auto', interfaces: [link.ifA], lifetimeMs: 55_000 }),
          ],
          childEnv(fixture),
        );
        let publisher: JsonLineChild | undefined;
        try {
          const browsing = await browser.waitFor(
            (l) => l.ev === 'browsing' || l.ev === 'error',
            20_000,
          );
          assert.equal(
            browsing?.ev,
            'browsing',
            `browser: ${JSON.stringify(browser.lines)}\n${browser.stderr().slice(-3000)}`,
          );
          assert.equal(browser.lines.find((l) => l.ev === 'provider')?.name, provider);
          pass(`[${provider}] provider "auto" selected ${provider}`);
          publisher = spawnInNamespace(
            link.nsB,
            `peer${link.prefix}`,
            [
              'avahi-publish',
              '-s',
              'CI Peer SHIP',
              '_ship._tcp',
              '4799',
              'txtvers=1',
              'id=CI-PEER',
              'path=/ship/',
              `ski=${PEER_SKI.toUpperCase()}`,
              'register=true',
              'brand=CI',
              'model=Peer',
              'type=HeatPump',
              'vendor=acme',
            ],
            { DBUS_SYSTEM_BUS_ADDRESS: peerAvahi.busAddress },
          );

          const isPeer = (l: Record<string, unknown>) =>
            (l.ev === 'up' || l.ev === 'update') &&
            (l.service as { ski?: string } | undefined)?.ski === PEER_SKI;
          const up = await browser.waitFor(isPeer, 20_000);
          assert.ok(
            up !== undefined,
            `no up event; lines ${JSON.stringify(browser.lines)}\n${browser.stderr().slice(-3000)}`,
          );
          pass(`[${provider}] our browser saw avahi-publish (instance "CI Peer SHIP")`);

          // Let the per-protocol results arrive (Avahi: one per protocol), then check the merge.
          const latest = () => [...browser.lines].reverse().find(isPeer)!;
          type Seen = {
            instanceName: string;
            port: number;
            provider: string;
            own: boolean;
            hostName?: string;
            addresses: Array<{ address: string; family: number; interfaceName?: string }>;
            record: {
              shipId: string;
              register: boolean;
              brand: string;
              type: string;
              extra: Record<string, string>;
            };
          };
          await waitUntil(() => {
            const addresses = (latest().service as Seen).addresses;
            return addresses.some((a) => a.family === 4) && addresses.some((a) => a.family === 6);
          }, 5_000);
          const service = latest().service as Seen;
          assert.equal(service.instanceName, 'CI Peer SHIP');
          assert.equal(service.port, 4799);
          assert.equal(service.provider, provider);
          assert.equal(service.own, false);
          assert.equal(service.record.shipId, 'CI-PEER');
          assert.equal(service.record.register, true);
          assert.equal(service.record.brand, 'CI');
          assert.equal(service.record.type, 'HeatPump');
          assert.deepEqual(service.record.extra, { vendor: 'acme' });
          pass(
            `[${provider}] TXT parsed: id=CI-PEER register=true brand=CI type=HeatPump, uppercase SKI normalised, vendor=acme kept`,
          );
          assert.equal(service.hostName, `peer${link.prefix}.local`);
          pass(`[${provider}] port 4799, host ${service.hostName}`);
          const addresses = service.addresses.map((a) => a.address);
          assert.equal(service.addresses[0]?.family, 4, 'IPv4 first');
          assert.ok(
            addresses.includes(link.ipv4B),
            `peer IPv4 ${link.ipv4B} in ${addresses.join(', ')}`,
          );
          for (const a of service.addresses) {
            if (a.address.startsWith('fe80::')) {
              assert.ok(a.address.endsWith(`%${link.ifA}`), `zone on ${a.address}`);
            } else {
              assert.ok([link.ipv4B, link.ipv6B].includes(a.address), `unexpected ${a.address}`);
            }
            assert.equal(a.interfaceName, link.ifA);
          }
          pass(`[${provider}] peer addresses ${addresses.join(', ')} on ${link.ifA}, IPv4 first`);

          const t0 = Date.now();
          await stopProcess(publisher.child);
          const down = await browser.waitFor(
            (l) => l.ev === 'down' && (l.service as { ski?: string } | undefined)?.ski === PEER_SKI,
            10_000,
          );
          assert.ok(
            down !== undefined,
            `no down event; ${JSON.stringify(browser.lines.slice(-5))}`,
          );
          pass(
            `[${provider}] our browser saw the removal ${Date.now() - t0} ms after avahi-publish stopped`,
          );

          const code = await stopProcess(browser.child);
          assert.equal(code, 0);
          assertNoChildErrors(browser);
        } finally {
          if (publisher !== undefined) await stopProcess(publisher.child);
          await stopProcess(browser.child);
          await fixture.teardown();
        }
      },
    );
  }

  for (const provider of ['builtin', 'avahi'] as const) {
    it(
      `${provider}: renames on an instance name conflict (SHIP §7.1)`,
      { timeout: CASE_TIMEOUT_MS },
      async () => {
        const fixture = await setUp(provider);
        const { link, peerAvahi } = fixture;
        let child: JsonLineChild | undefined;
        // The peer already holds our instance name.
        const squatter = spawnInNamespace(
          link.nsB,
          `peer${link.prefix}`,
          [
            'avahi-publish',
            '-s',
            instanceName(fixture),
            '_ship._tcp',
            '4800',
            'txtvers=1',
            'id=SQUATTER',
            'path=/ship/',
            `ski=${PEER_SKI}`,
            'register=false',
          ],
          { DBUS_SYSTEM_BUS_ADDRESS: peerAvahi.busAddress },
        );
        try {
          const escapedName = instanceName(fixture).replaceAll(' ', '\\032');
          const squatting = await waitUntil(
            async () => (await avahiBrowse(peerAvahi, false)).includes(escapedName),
            10_000,
            250,
          );
          assert.ok(squatting, 'avahi-publish did not establish the conflicting name');
          child = await startAnnouncer(fixture);
          const rows = await waitSeenByPeer(fixture, 'register=false', 25_000);
          assert.ok(rows.length > 0, `not announced; stderr:\n${child.stderr().slice(-3000)}`);
          const names = [...new Set(rows.map((r) => r.name))];
          assert.ok(
            names.every((n) => n !== escapedName && n.startsWith(escapedName)),
            `renamed instance expected, got ${names.join(', ')}`,
          );
          const shown = names.map((n) =>
            n.replace(/\\(\d{3})/g, (_m, code: string) => String.fromCharCode(Number(code))),
          );
          pass(`[${provider}] name conflict: announced as "${shown.join('", "')}" instead`);
          assert.equal(await stopProcess(child.child), 0);
          assertNoChildErrors(child);
        } finally {
          if (child !== undefined) await stopProcess(child.child);
          await stopProcess(squatter.child);
          await fixture.teardown();
        }
      },
    );
  }

  it(
    'builtin: announces again after its interface is deleted and re-created',
    { timeout: CASE_TIMEOUT_MS },
    async () => {
      const fixture = await setUp('builtin');
      let child: JsonLineChild | undefined;
      try {
        child = await startAnnouncer(fixture);
        assert.ok((await waitSeenByPeer(fixture, 'register=false', 20_000)).length > 0);
        recreateVeth(fixture.link);
        await waitForLinkLocal(fixture.link.nsA, fixture.link.ifA);
        const t0 = Date.now();
        const rows = await waitSeenByPeer(fixture, 'register=false', 30_000);
        assert.ok(rows.length > 0, `not announced again; stderr:\n${child.stderr().slice(-3000)}`);
        pass(`[builtin] announced again ${Date.now() - t0} ms after the interface was re-created`);
        assert.equal(await stopProcess(child.child), 0);
        assertNoChildErrors(child);
      } finally {
        if (child !== undefined) await stopProcess(child.child);
        await fixture.teardown();
      }
    },
  );

  it(
    'avahi: registers again after avahi-daemon restarts',
    { timeout: CASE_TIMEOUT_MS },
    async () => {
      const fixture = await setUp('avahi');
      let child: JsonLineChild | undefined;
      try {
        child = await startAnnouncer(fixture);
        assert.ok((await waitSeenByPeer(fixture, 'register=false', 20_000)).length > 0);
        await fixture.ourAvahi!.restartDaemon();
        const t0 = Date.now();
        const rows = await waitSeenByPeer(fixture, 'register=false', 20_000);
        assert.ok(rows.length > 0, `not registered again; stderr:\n${child.stderr().slice(-3000)}`);
        pass(`[avahi] registered again ${Date.now() - t0} ms after avahi-daemon restarted`);
        assert.equal(await stopProcess(child.child), 0);
        assertNoChildErrors(child);
      } finally {
        if (child !== undefined) await stopProcess(child.child);
        await fixture.teardown();
      }
    },
  );
});
