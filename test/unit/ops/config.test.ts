import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONFIG_KEYS,
  parsePeerEntry,
  DEFAULT_CONFIG_JSON,
  closestKey,
  configWarnings,
  defaultConfig,
  envVarName,
  isLoopbackHost,
  loadConfig,
  unknownEnvVars,
} from '../../../src/ops/config.js';
import { ConfigError } from '../../../src/ship/errors.js';

/** The config.json of the seed README, verbatim. */
const SEED_CONFIG = `{
  "device_brand": "YourCompany",
  "device_model": "SmartEnergyGateway",
  "device_type": "EnergyManager",
  "device_serial": "SEG-2024-001",
  "organization": "Your Company Ltd",
  "country": "DE",
  "port": 4712,
  "max_connections": 20,
  "auto_accept_pairing": false,
  "trusted_devices_file": "data/trusted_devices.json",
  "certificate_file": "certs/ship.crt",
  "private_key_file": "certs/ship.key",
  "log_level": "info",
  "metrics_enabled": true
}`;

let dir: string;
let n = 0;

/** Writes `text` to a fresh config file in the temp dir; returns its path. */
async function configFile(text: string, name = 'config.json'): Promise<string> {
  const sub = join(dir, `case-${++n}`);
  await mkdir(sub, { recursive: true });
  const path = join(sub, name);
  await writeFile(path, text);
  return path;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'SHIPHUB_ERR_CONFIG');
    return error;
  }
  assert.fail('expected loadConfig to throw');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiphub-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('config defaults', () => {
  it('loads without a file: the seed example values, paths resolved against the cwd', async () => {
    const config = await loadConfig(undefined, {}, { cwd: dir });
    assert.deepEqual(
      { ...config },
      {
        device_brand: 'YourCompany',
        device_model: 'SmartEnergyGateway',
        device_type: 'EnergyManager',
        device_serial: 'SEG-2024-001',
        organization: 'Your Company Ltd',
        country: 'DE',
        port: 4712,
        max_connections: 20,
        auto_accept_pairing: false,
        trusted_devices_file: join(dir, 'data/trusted_devices.json'),
        certificate_file: join(dir, 'certs/ship.crt'),
        private_key_file: join(dir, 'certs/ship.key'),
        state_file: join(dir, 'data/hub_state.json'),
        admin_token_file: join(dir, 'data/admin.token'),
        log_level: 'info',
        metrics_enabled: true,
        network_interfaces: [],
        peers: [],
        mdns_enabled: true,
        spine_enabled: true,
        admin_port: 4713,
        admin_host: '127.0.0.1',
        admin_allowed_hosts: [],
        admin_token: undefined,
        mdns_provider: 'auto',
        double_connection_rule: 'spec',
        accept_legacy_ski: false,
        auto_accept_window_seconds: 120,
        pending_pairing_timeout_seconds: 600,
        max_handshakes_in_flight: 64,
        max_pending_pairings: 5,
        denied_pairing_cooldown_seconds: 600,
        ship_id: 'YourCompany-SmartEnergyGateway-SEG-2024-001',
        log_format: 'auto',
      },
    );
    assert.deepEqual(Object.keys(config), CONFIG_KEYS);
    assert.deepEqual(config, defaultConfig(dir));
  });

  it('loads the seed README config.json unchanged', async () => {
    const path = await configFile(SEED_CONFIG);
    const config = await loadConfig(path, {});
    assert.deepEqual(config, defaultConfig(join(path, '..')));
  });

  it('DEFAULT_CONFIG_JSON is 2-space JSON with a trailing newline and loads back to the defaults', async () => {
    assert.ok(DEFAULT_CONFIG_JSON.endsWith('}\n'));
    assert.ok(DEFAULT_CONFIG_JSON.startsWith('{\n  "device_brand": "YourCompany",\n'));
    const path = await configFile(DEFAULT_CONFIG_JSON);
    assert.deepEqual(await loadConfig(path, {}), defaultConfig(join(path, '..')));
  });

  it('returns a deep-frozen object', async () => {
    const path = await configFile('{ "network_interfaces": ["eth0"] }');
    const config = await loadConfig(path, {});
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.network_interfaces));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.network_interfaces as string[]).push('wlan0');
    }, TypeError);
  });

  it('derives ship_id from brand, model and serial unless it is set', async () => {
    const derived = await loadConfig(
      await configFile('{ "device_brand": "Acme", "device_model": "Box", "device_serial": "7" }'),
      {},
    );
    assert.equal(derived.ship_id, 'Acme-Box-7');
    const explicit = await loadConfig(await configFile('{ "ship_id": "my-hub" }'), {});
    assert.equal(explicit.ship_id, 'my-hub');
  });
});

describe('config errors name file, key, expected and got', () => {
  const cases: [key: string, json: string, expected: string, got: string][] = [
    ['port', '"abc"', 'an integer from 1 to 65535', '"abc"'],
    ['port', '0', 'an integer from 1 to 65535', '0'],
    ['port', '4712.5', 'an integer from 1 to 65535', '4712.5'],
    ['max_connections', '-1', 'an integer from 1 to 10000', '-1'],
    ['auto_accept_pairing', '"false"', 'true or false', '"false"'],
    ['metrics_enabled', '1', 'true or false', '1'],
    ['mdns_enabled', 'null', 'true or false', 'null'],
    ['spine_enabled', '"yes"', 'true or false', '"yes"'],
    ['accept_legacy_ski', '"yes"', 'true or false', '"yes"'],
    ['device_brand', '""', 'a non-empty string', '""'],
    ['device_model', '42', 'a non-empty string', '42'],
    ['device_type', '[]', 'a non-empty string', '[]'],
    ['device_serial', '{}', 'a non-empty string', '{}'],
    ['organization', 'false', 'a non-empty string', 'false'],
    [
      'country',
      '"Germany"',
      'a two-letter upper-case ISO 3166-1 country code such as "DE"',
      '"Germany"',
    ],
    ['trusted_devices_file', '""', 'a file path', '""'],
    ['certificate_file', '1', 'a file path', '1'],
    ['private_key_file', 'null', 'a file path', 'null'],
    ['state_file', 'true', 'a file path', 'true'],
    [
      'log_level',
      '"verbose"',
      'one of "trace", "debug", "info", "warn", "error", "fatal", "silent"',
      '"verbose"',
    ],
    [
      'network_interfaces',
      '"eth0"',
      'an array of distinct interface names such as ["eth0"] ([] = all interfaces)',
      '"eth0"',
    ],
    [
      'network_interfaces',
      '["eth0", "eth0"]',
      'an array of distinct interface names such as ["eth0"] ([] = all interfaces)',
      '["eth0","eth0"]',
    ],
    [
      'peers',
      '["192.168.20.7:4712"]',
      'an array of "SKI@HOST:PORT" such as ["a1b2…(40 hex digits)@192.168.20.7:4712"] ([] = none)',
      '["192.168.20.7:4712"]',
    ],
    ['admin_port', '70000', 'an integer from 0 (admin API disabled) to 65535', '70000'],
    [
      'admin_host',
      '"not a host!"',
      'an IP address or host name such as "127.0.0.1"',
      '"not a host!"',
    ],
    ['admin_token', '""', 'a non-empty string', '""'],
    ['admin_token_file', '""', 'a file path', '""'],
    [
      'admin_allowed_hosts',
      '["hub.example.com/x"]',
      'an array of Host header values such as ["hub.example.com", "192.168.1.5:4713"] ([] = only the bound address)',
      '["hub.example.com/x"]',
    ],
    ['mdns_provider', '"bonjour"', 'one of "auto", "avahi", "builtin"', '"bonjour"'],
    ['double_connection_rule', '"lowest"', 'one of "spec", "legacy"', '"lowest"'],
    [
      'auto_accept_window_seconds',
      '121',
      'an integer from 1 to 120 (SHIP 12.3.1.1 caps the window at 2 minutes)',
      '121',
    ],
    ['pending_pairing_timeout_seconds', '0', 'an integer from 1 to 86400', '0'],
    ['max_handshakes_in_flight', '0', 'an integer from 1 to 10000', '0'],
    [
      'max_pending_pairings',
      '0',
      'an integer from 1 to 10000 (at most max_connections is used)',
      '0',
    ],
    [
      'denied_pairing_cooldown_seconds',
      '-1',
      'an integer from 0 (no cool-down) to 604800 (a week)',
      '-1',
    ],
    ['ship_id', '""', 'a non-empty string', '""'],
    ['log_format', '"text"', 'one of "auto", "pretty", "json"', '"text"'],
  ];

  for (const [key, json, expected, got] of cases) {
    it(`${key} = ${json}`, async () => {
      const path = await configFile(`{\n  "${key}": ${json}\n}\n`);
      const error = await configError(loadConfig(path, {}));
      assert.equal(error.message, `${path}: "${key}": expected ${expected}, got ${got}`);
    });
  }

  it("peers: SKI@HOST:PORT entries are kept and parse to the hub's static peers", async () => {
    const ski = 'a1'.repeat(20);
    const path = await configFile(
      `{ "peers": ["${ski}@192.168.20.7:4712", "${ski.toUpperCase()}@[fd00::8]:4712/ship/"] }`,
    );
    const config = await loadConfig(path, {});
    assert.deepEqual(config.peers.map(parsePeerEntry), [
      { ski, address: '192.168.20.7:4712' },
      { ski, address: '[fd00::8]:4712/ship/' },
    ]);
    assert.match(parsePeerEntry('nonsense@1.2.3.4:1') as string, /not an SKI/);
    assert.match(parsePeerEntry(`${ski}1.2.3.4:1`) as string, /not SKI@HOST:PORT/);
  });

  it('covers every key in the table above', () => {
    const tested = new Set(cases.map(([key]) => key));
    assert.deepEqual(
      CONFIG_KEYS.filter((key) => !tested.has(key)),
      [],
    );
  });

  it('uses the path as given in messages (config.json example)', async () => {
    const path = await configFile('{ "port": "abc" }');
    const error = await configError(loadConfig('config.json', {}, { cwd: join(path, '..') }));
    assert.equal(
      error.message,
      'config.json: "port": expected an integer from 1 to 65535, got "abc"',
    );
  });

  it('refuses unknown keys with the closest known key', async () => {
    const path = await configFile('{ "max_conections": 10 }');
    const error = await configError(loadConfig('config.json', {}, { cwd: join(path, '..') }));
    assert.equal(
      error.message,
      'config.json: unknown key "max_conections" (did you mean "max_connections"?)',
    );
  });

  it('suggests snake_case for camelCase keys and lists keys when nothing is close', async () => {
    assert.equal(closestKey('maxConnections'), 'max_connections');
    assert.equal(closestKey('AutoAcceptPairing'), 'auto_accept_pairing');
    assert.equal(closestKey('logLevel'), 'log_level');
    assert.equal(closestKey('zzzzzzzzzzzz'), undefined);
    const path = await configFile('{ "zzzzzzzzzzzz": 1 }');
    const error = await configError(loadConfig(path, {}));
    assert.match(error.message, /unknown key "zzzzzzzzzzzz" \(known keys: device_brand, /);
  });

  it('reports every problem at once, one per line', async () => {
    const path = await configFile('{ "prot": 1, "port": "x", "country": "de" }');
    const error = await configError(loadConfig(path, {}));
    assert.deepEqual(error.message.split('\n'), [
      `${path}: unknown key "prot" (did you mean "port"?)`,
      `${path}: "country": expected a two-letter upper-case ISO 3166-1 country code such as "DE", got "de"`,
      `${path}: "port": expected an integer from 1 to 65535, got "x"`,
    ]);
  });

  it('names file, line and column of invalid JSON', async () => {
    const path = await configFile('{\n  "port": 4712,\n  "log_level" "info"\n}\n');
    const error = await configError(loadConfig(path, {}));
    assert.match(
      error.message,
      new RegExp(`^${escape(path)}: invalid JSON at line 3, column 15: `),
    );
  });

  it('gives the right line where Node 20 gives no position, and refuses a key written twice', async () => {
    // Node 20's JSON.parse says "Unexpected token" without a position for some errors; the
    // error used to be reported at the end of the file.
    const early = await configFile(
      '{\n  "port": 47x2,\n  "max_connections": 20,\n  "log_level": "info"\n}\n',
    );
    assert.match(
      (await configError(loadConfig(early, {}))).message,
      /invalid JSON at line 2, column /,
    );
    const twice = await configFile(
      '{\n  "port": 4712,\n  "mdns_enabled": true,\n  "port": 4800\n}\n',
    );
    assert.match(
      (await configError(loadConfig(twice, {}))).message,
      /line 4 repeats the key of line 2 \("port"\); JSON would silently keep only the last one/,
    );
  });

  it('explains comments and trailing commas (the seed README shows // comments)', async () => {
    const comment = await configFile(
      '{\n  "max_connections": 50  // Increase for powerful devices\n}\n',
    );
    assert.match(
      (await configError(loadConfig(comment, {}))).message,
      /line 2, column 26: .*comments are not allowed in JSON/,
    );
    const trailing = await configFile('{\n  "port": 4712,\n}\n');
    assert.match(
      (await configError(loadConfig(trailing, {}))).message,
      /line 3, column 1: .*trailing commas are not allowed/,
    );
  });

  it('reports truncated and empty files at their end', async () => {
    const empty = await configFile('');
    assert.match(
      (await configError(loadConfig(empty, {}))).message,
      /invalid JSON at line 1, column 1/,
    );
    const truncated = await configFile('{\n  "port": ');
    assert.match(
      (await configError(loadConfig(truncated, {}))).message,
      /invalid JSON at line 2, column 11/,
    );
  });

  it('refuses a top level that is not an object', async () => {
    const path = await configFile('[1, 2]');
    assert.equal(
      (await configError(loadConfig(path, {}))).message,
      `${path}: expected a JSON object at the top level, got an array`,
    );
  });

  it('says when the file is missing', async () => {
    const error = await configError(loadConfig(join(dir, 'missing.json'), {}));
    assert.equal(
      error.message,
      `${join(dir, 'missing.json')}: cannot read config file: file not found`,
    );
  });

  it('requires admin_token when admin_host is not loopback', async () => {
    const path = await configFile('{ "admin_host": "0.0.0.0" }');
    const error = await configError(loadConfig(path, {}));
    assert.equal(
      error.message,
      `${path}: "admin_token": expected a non-empty string because "admin_host" is "0.0.0.0" ` +
        '(not a loopback address, so the admin API needs a token), got nothing',
    );
    const ok = await loadConfig(
      await configFile('{ "admin_host": "0.0.0.0", "admin_token": "0123456789abcdef0123" }'),
      {},
    );
    assert.equal(ok.admin_token, '0123456789abcdef0123');
    const disabled = await loadConfig(
      await configFile('{ "admin_host": "0.0.0.0", "admin_port": 0 }'),
      {},
    );
    assert.equal(disabled.admin_port, 0);
  });

  it('refuses admin_port equal to port', async () => {
    const path = await configFile('{ "port": 5000, "admin_port": 5000 }');
    assert.equal(
      (await configError(loadConfig(path, {}))).message,
      `${path}: "admin_port": expected a port different from "port" (5000), or 0 to disable the admin API, got 5000`,
    );
  });
});

describe('config from the environment', () => {
  it('overrides the file (file < env) and converts types', async () => {
    const path = await configFile(
      '{ "port": 5000, "log_level": "debug", "device_brand": "FromFile" }',
    );
    const config = await loadConfig(path, {
      SHIPHUB_PORT: '4800',
      SHIPHUB_AUTO_ACCEPT_PAIRING: 'true',
      SHIPHUB_METRICS_ENABLED: '0',
      SHIPHUB_LOG_LEVEL: 'warn',
      SHIPHUB_NETWORK_INTERFACES: 'eth0, wlan0',
      SHIPHUB_ADMIN_TOKEN: '',
      UNRELATED: 'x',
    });
    assert.equal(config.port, 4800);
    assert.equal(config.auto_accept_pairing, true);
    assert.equal(config.metrics_enabled, false);
    assert.equal(config.log_level, 'warn');
    assert.deepEqual(config.network_interfaces, ['eth0', 'wlan0']);
    assert.equal(config.device_brand, 'FromFile');
    assert.equal(config.admin_token, undefined);
  });

  it('has one variable per key', () => {
    assert.equal(
      envVarName('pending_pairing_timeout_seconds'),
      'SHIPHUB_PENDING_PAIRING_TIMEOUT_SECONDS',
    );
  });

  it('names the variable in errors', async () => {
    const error = await configError(loadConfig(undefined, { SHIPHUB_PORT: 'abc' }, { cwd: dir }));
    assert.equal(
      error.message,
      'environment variable SHIPHUB_PORT ("port"): expected an integer from 1 to 65535, got "abc"',
    );
    const bool = await configError(
      loadConfig(undefined, { SHIPHUB_MDNS_ENABLED: 'maybe' }, { cwd: dir }),
    );
    assert.match(
      bool.message,
      /SHIPHUB_MDNS_ENABLED \("mdns_enabled"\): expected true or false, got "maybe"/,
    );
  });

  it('lets overrides (CLI flags) win over env and file', async () => {
    const path = await configFile('{ "port": 5000 }');
    const config = await loadConfig(path, { SHIPHUB_PORT: '5001' }, { overrides: { port: 5002 } });
    assert.equal(config.port, 5002);
    const error = await configError(loadConfig(path, {}, { overrides: { port: 0 } }));
    assert.equal(error.message, 'command line: "port": expected an integer from 1 to 65535, got 0');
  });

  it('reports unknown SHIPHUB_ variables as warnings with a hint', () => {
    assert.deepEqual(
      unknownEnvVars({ SHIPHUB_PROT: '1', SHIPHUB_PORT: '2', SHIPHUB_CONFIG: 'x' }),
      ['unknown environment variable SHIPHUB_PROT is ignored (did you mean SHIPHUB_PORT?)'],
    );
  });
});

describe('config paths', () => {
  it('resolves relative paths against the config file directory', async () => {
    const path = await configFile(
      '{ "trusted_devices_file": "state/trust.json", "certificate_file": "/etc/ship/ship.crt" }',
    );
    const base = join(path, '..');
    const config = await loadConfig(path, {}, { cwd: '/' });
    assert.equal(config.trusted_devices_file, join(base, 'state/trust.json'));
    assert.equal(config.certificate_file, '/etc/ship/ship.crt');
    assert.equal(config.private_key_file, join(base, 'certs/ship.key'));
    assert.equal(config.state_file, join(base, 'data/hub_state.json'));
  });

  it('resolves paths from the environment against the cwd', async () => {
    const path = await configFile('{}');
    const config = await loadConfig(path, { SHIPHUB_STATE_FILE: 'var/state.json' }, { cwd: dir });
    assert.equal(config.state_file, join(dir, 'var/state.json'));
  });
});

describe('config warnings', () => {
  it('is quiet for the defaults', () => {
    assert.deepEqual(configWarnings(defaultConfig(dir)), []);
  });

  it('is LOUD about auto_accept_pairing and says windows are at most 2 minutes', async () => {
    const config = await loadConfig(
      undefined,
      { SHIPHUB_AUTO_ACCEPT_PAIRING: 'true' },
      { cwd: dir },
    );
    const [first] = configWarnings(config);
    assert.match(first ?? '', /AUTO-ACCEPT PAIRING IS ENABLED/);
    assert.match(first ?? '', /at most 2 minutes/);
    assert.match(first ?? '', /production/);
  });

  it('warns about an exposed admin API and a short token', async () => {
    const config = await loadConfig(
      undefined,
      { SHIPHUB_ADMIN_HOST: '0.0.0.0', SHIPHUB_ADMIN_TOKEN: 'short' },
      { cwd: dir },
    );
    const warnings = configWarnings(config);
    assert.ok(warnings.some((w) => w.includes('not on loopback')));
    assert.ok(warnings.some((w) => w.includes('shorter than 16')));
  });

  it('knows loopback addresses', () => {
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      'localhost',
      '[::1]',
      '::ffff:127.0.0.1',
    ]) {
      assert.ok(isLoopbackHost(host), host);
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      assert.ok(!isLoopbackHost(host), host);
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
