/**
 * The `ship-hub` command line as a user meets it: --version, help, a mistyped command, `config
 * check` and `cert renew`. The built CLI runs as a child process; nothing here opens a network
 * connection (`config check` binds its ports for a moment and releases them).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createIdentity, loadIdentity, saveIdentity } from '../../src/trust/identity.js';
import { freePort } from '../helpers/ports.js';

const CLI = resolve('build/src/cli/main.js');

/** The environment without SHIPHUB_* variables (a developer's shell must not change results). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SHIPHUB_')),
  );
  return { ...env, ...extra };
}

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: cleanEnv(),
  });
}

function runIn(dir: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: cleanEnv(env),
  });
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A directory holding only config.json: loopback admin API, mDNS off, free ports, plus `extra`. */
async function configDir(extra: Record<string, unknown> = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ship-hub-cli-'));
  dirs.push(dir);
  const config = {
    port: await freePort(),
    admin_port: await freePort(),
    mdns_enabled: false,
    ...extra,
  };
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return dir;
}

/** Every path below `dir`, sorted: what a command created shows up here. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

const SAMPLE_SUBJECT = { commonName: 'cli-test', organization: 'Test', country: 'DE' };

describe('ship-hub command line', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = run(flag);
      assert.equal(result.status, 0);
      assert.equal(result.stdout.trim(), pkg.version);
    }
  });

  it('output into a pipe whose reader has gone ends quietly (ship-hub … | head -1)', async () => {
    const dir = await configDir();
    const child = spawn(process.execPath, [CLI, 'config', 'check', 'config.json'], {
      cwd: dir,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reader leaves before the command writes its first line: every write gets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(stderr, '', 'no stack trace, no error');
    assert.equal(code, 0);
  });

  it('help shows the usage instead of looking for a config file named "help"', () => {
    const result = run('help');
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^Usage: ship-hub/);
    assert.doesNotMatch(result.stderr, /config file/);
  });

  it('numeric options are checked before anything is done: exit code 2', () => {
    for (const value of ['abc', '0', '-5', '']) {
      const probe = run('probe', '127.0.0.1:9', '--timeout', value);
      assert.equal(probe.status, 2, `probe --timeout "${value}"`);
      assert.match(probe.stderr, /--timeout: expected a number of seconds above 0/);
      assert.doesNotMatch(probe.stdout + probe.stderr, /NaN/);
    }
    const discover = run('discover', '--timeout', 'soon');
    assert.equal(discover.status, 2);
    assert.match(discover.stderr, /--timeout: expected a number of seconds/);
  });

  it('a mistyped command is a usage error with a suggestion, exit code 2', () => {
    const result = run('pairnig');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown command "pairnig" \(did you mean "pairing"\?\)/);
    assert.doesNotMatch(result.stderr, /cannot read config file/);
    const path = run('./no-such-config.json');
    assert.match(path.stderr, /cannot read config file/, 'a path is still taken as a config file');
    // With its subcommand after it, the typo is still named (not "too many arguments").
    const withSub = run('pairng', 'list');
    assert.equal(withSub.status, 2);
    assert.match(withSub.stderr, /unknown command "pairng" \(did you mean "pairing"\?\)/);
    const extra = run('./config.json', 'extra');
    assert.equal(extra.status, 2);
    assert.match(extra.stderr, /the daemon takes one config file; unexpected: extra/);
  });
});

describe('ship-hub config check: every start-up check, nothing created', () => {
  it('a fresh config passes and says what the first start would create', async () => {
    const dir = await configDir();
    const result = runIn(dir, ['config', 'check', 'config.json']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /no identity yet: the first start creates .*ship\.key/);
    assert.match(result.stdout, /config\.json: OK/);
    assert.deepEqual(tree(dir), ['config.json'], 'config check created nothing');
  });

  it('an unknown interface fails with the key named, before anything is created', async () => {
    const dir = await configDir({ mdns_enabled: true, network_interfaces: ['nosuch9'] });
    const result = runIn(dir, ['config', 'check', 'config.json']);
    assert.equal(result.status, 2, result.stdout);
    assert.match(
      result.stderr,
      /config\.json: "network_interfaces": unknown network interface "nosuch9"/,
    );
    assert.deepEqual(tree(dir), ['config.json']);
  });

  it('a broken trusted_devices.json fails with the file and line named', async () => {
    const dir = await configDir();
    mkdirSync(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'trusted_devices.json'), '{\n  "x": 1,\n');
    const result = runIn(dir, ['config', 'check', 'config.json']);
    assert.equal(result.status, 2);
    assert.match(
      result.stderr,
      /trusted_devices\.json: the trusted devices file is not valid JSON/,
    );
    assert.deepEqual(tree(dir), ['config.json', 'data', join('data', 'trusted_devices.json')]);
  });

  it('a certificate of another key fails naming both files', async () => {
    const dir = await configDir();
    const [a, b] = await Promise.all([
      createIdentity(SAMPLE_SUBJECT),
      createIdentity(SAMPLE_SUBJECT),
    ]);
    const certs = join(dir, 'certs');
    await saveIdentity(a, join(certs, 'ship.crt'), join(certs, 'ship.key'));
    await writeFile(join(certs, 'ship.crt'), b.certificatePem);
    const result = runIn(dir, ['config', 'check', 'config.json']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /ship\.crt does not belong to private key file .*ship\.key/);
    assert.match(result.stderr, /ship-hub cert renew/, 'the advice names a command that does it');
  });

  it('an admin token file others may read fails naming admin_token_file', async () => {
    const dir = await configDir();
    mkdirSync(join(dir, 'data'));
    const token = join(dir, 'data', 'admin.token');
    await writeFile(token, 'a-long-enough-token-for-the-check\n');
    chmodSync(token, 0o644);
    const result = runIn(dir, ['config', 'check', 'config.json']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /admin\.token \(admin_token_file\): readable or writable by group/);
  });

  it('a SHIP port in use fails naming "port", as the start would', async () => {
    const port = await freePort();
    const dir = await configDir({ port });
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(port, '127.0.0.1', done));
    try {
      const result = runIn(dir, ['config', 'check', 'config.json']);
      assert.equal(result.status, 2);
      assert.match(
        result.stderr,
        new RegExp(`config\\.json: "port": port ${port} is already in use`),
      );
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });
});

describe('ship-hub cert renew: from the existing key, whatever the certificate', () => {
  async function withIdentity() {
    const dir = await configDir();
    const identity = await createIdentity(SAMPLE_SUBJECT);
    const cert = join(dir, 'certs', 'ship.crt');
    const key = join(dir, 'certs', 'ship.key');
    await saveIdentity(identity, cert, key);
    return { dir, identity, cert, key };
  }

  it('cert show: one line per field, the subject on one line, and the file it read', async () => {
    const { dir, identity, cert } = await withIdentity();
    const result = runIn(dir, ['cert', 'show', '--config', 'config.json']);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `SKI:          ${identity.ski}`);
    const subject = lines.find((l) => l.startsWith('Subject:'));
    assert.match(String(subject), /^Subject: {6}\S.*, .*=/);
    // Every line is a "Field: value" line (no continuation lines from a multi-line subject).
    for (const line of lines) assert.match(line, /^[A-Z][A-Za-z0-9 -]*: {2,}\S/);
    assert.equal(lines.at(-1), `Certificate:  ${cert}`);
  });

  it('re-issues a missing certificate with the same SKI', async () => {
    const { dir, identity, cert, key } = await withIdentity();
    rmSync(cert);
    const result = runIn(dir, ['cert', 'renew', '--config', 'config.json']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /re-issued the missing certificate/);
    const reissued = await loadIdentity(cert, key);
    assert.equal(reissued.ski, identity.ski);
    assert.match(result.stdout, new RegExp(`unchanged\\): ${identity.ski}`));
  });

  it('replaces a certificate of another key, keeps it aside, the SKI follows the key', async () => {
    const { dir, identity, cert, key } = await withIdentity();
    const other = await createIdentity(SAMPLE_SUBJECT);
    await writeFile(cert, other.certificatePem);
    const result = runIn(dir, ['cert', 'renew', '--config', 'config.json']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /replaced the certificate that did not match the key/);
    assert.equal((await loadIdentity(cert, key)).ski, identity.ski);
    const kept = readdirSync(join(dir, 'certs')).filter((f) => f.startsWith('ship.crt.replaced-'));
    assert.equal(kept.length, 1);
    assert.equal(readFileSync(join(dir, 'certs', kept[0]!), 'utf8'), other.certificatePem);
    // The start-up advice is now doable: config check passes.
    assert.equal(runIn(dir, ['config', 'check', 'config.json']).status, 0);
  });

  it('renews a valid certificate: new serial, same SKI and subject', async () => {
    const { dir, identity, cert, key } = await withIdentity();
    const result = runIn(dir, ['cert', 'renew', '--config', 'config.json', '--days', '30']);
    assert.equal(result.status, 0, result.stderr);
    const renewed = await loadIdentity(cert, key);
    assert.equal(renewed.ski, identity.ski);
    assert.notEqual(renewed.serialNumber, identity.serialNumber);
    assert.equal(renewed.subject, identity.subject);
  });

  it('without the key nothing is written and the key file is named (exit 2)', async () => {
    const dir = await configDir();
    const result = runIn(dir, ['cert', 'renew', '--config', 'config.json']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /private key file .*ship\.key does not exist/);
    assert.deepEqual(tree(dir), ['config.json']);
  });
});

describe('static addresses (trust add --address)', () => {
  it('stores the address on the file, lists it, and refuses what is not HOST:PORT', async () => {
    const dir = await configDir();
    const ski = 'a'.repeat(40);
    const added = runIn(dir, [
      'trust',
      'add',
      ski,
      '--address',
      '192.0.2.7:4712',
      '--config',
      'config.json',
    ]);
    assert.equal(added.status, 0, added.stderr);
    const list = runIn(dir, ['trust', 'list', '--config', 'config.json']);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /ADDRESS/);
    assert.match(list.stdout, /192\.0\.2\.7:4712/);
    assert.match(list.stdout, /CONNECTED +LAST_CONNECTION/);
    // Never connected: "never", not the pairing time the seed's file keeps in last_connection.
    assert.match(list.stdout, /\bno +never +192\.0\.2\.7:4712 +0\b/);
    const json = runIn(dir, ['trust', 'list', '--json', '--config', 'config.json']);
    const devices = JSON.parse(json.stdout) as Array<{ ski: string; address?: string }>;
    assert.equal(devices.find((d) => d.ski === ski)?.address, '192.0.2.7:4712');
    // `devices` without a daemon: what the trust file knows, one row per SKI.
    const view = runIn(dir, ['devices', '--json', '--config', 'config.json']);
    assert.equal(view.status, 0, view.stderr);
    const rows = JSON.parse(view.stdout) as Array<{ ski: string; trusted: string }>;
    assert.deepEqual(
      rows.map((r) => [r.ski, r.trusted]),
      [[ski, 'yes']],
    );
    assert.match(view.stderr, /read from the file .*trusted_devices\.json/);
    const bad = runIn(dir, [
      'trust',
      'add',
      ski,
      '--address',
      '192.0.2.7',
      '--config',
      'config.json',
    ]);
    assert.equal(bad.status, 2, 'bad usage');
    assert.match(bad.stderr, /--address: "192\.0\.2\.7" is not HOST:PORT/);
  });
});

describe('exit codes (README "Exit codes") and environment warnings', () => {
  it('0 done, 1 runtime failure, 2 bad usage or configuration error', async () => {
    const dir = await configDir();
    assert.equal(runIn(dir, ['trust', 'list', '--config', 'config.json']).status, 0);
    // Nothing listens on admin_port: a runtime failure, not the user's typing.
    const unreachable = runIn(dir, ['pairing', 'list', '--config', 'config.json']);
    assert.equal(unreachable.status, 1, unreachable.stderr);
    const option = runIn(dir, ['trust', 'list', '--no-such-option']);
    assert.equal(option.status, 2, 'an unknown option is bad usage');
    assert.match(option.stderr, /unknown option '--no-such-option'/);
    assert.equal(
      runIn(dir, ['trust', 'remove', 'not-an-ski', '--config', 'config.json']).status,
      2,
    );
    await writeFile(join(dir, 'bad.json'), '{ "port": "abc" }\n');
    const bad = runIn(dir, ['config', 'check', 'bad.json']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad\.json: "port": expected an integer/);
  });

  it('an unknown SHIPHUB_* variable is named in a warning, with the key it resembles', async () => {
    const dir = await configDir();
    const check = runIn(dir, ['config', 'check', 'config.json'], { SHIPHUB_PROT: '4800' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(
      check.stdout,
      /warning: unknown environment variable SHIPHUB_PROT is ignored \(did you mean SHIPHUB_PORT\?\)/,
    );
    // A failing check names it too: the mistyped variable may be why it fails.
    const brokenDir = await configDir({ port: 'abc' });
    const failing = runIn(brokenDir, ['config', 'check', 'config.json'], { SHIPHUB_PROT: '4800' });
    assert.equal(failing.status, 2, failing.stderr);
    assert.match(failing.stderr, /warning: unknown environment variable SHIPHUB_PROT/);
    const list = runIn(dir, ['trust', 'list', '--config', 'config.json'], {
      SHIPHUB_LOGLEVEL: 'x',
    });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stderr, /warning: unknown environment variable SHIPHUB_LOGLEVEL/);
    // The daemon logs it at start; here the start then fails on a taken port (exit 2).
    const port = await freePort();
    const daemonDir = await configDir({ port, log_format: 'json' });
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(port, '127.0.0.1', done));
    try {
      const daemon = runIn(daemonDir, ['./config.json'], { SHIPHUB_PROT: '4800' });
      assert.equal(daemon.status, 2, daemon.stderr);
      const warning = daemon.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .find((line) => line.msg.includes('SHIPHUB_PROT'));
      assert.equal(warning?.level, 40, 'logged at level warn');
    } finally {
      await new Promise((done) => blocker.close(done));
    }
    // SHIPHUB_CONFIG is the CLI's own variable, not an unknown one.
    const own = runIn(dir, ['trust', 'list'], { SHIPHUB_CONFIG: 'config.json' });
    assert.doesNotMatch(own.stderr, /unknown environment variable/);
  });
});

describe('where the CLI finds its config', () => {
  const SYSTEM_CONFIG = '/etc/ship-hub/config.json';

  it(
    'no config anywhere: every place tried is named with how to create one, nothing created',
    { skip: existsSync(SYSTEM_CONFIG) ? `${SYSTEM_CONFIG} exists on this machine` : false },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'ship-hub-cli-'));
      dirs.push(dir);
      for (const args of [[], ['trust', 'list'], ['cert', 'show'], ['config', 'check']]) {
        const result = runIn(dir, args);
        assert.equal(result.status, 2, `ship-hub ${args.join(' ')}`);
        assert.match(result.stderr, /no config file found; tried --config \(not given\)/);
        assert.match(result.stderr, /\$SHIPHUB_CONFIG \(not set\)/);
        assert.ok(result.stderr.includes(`${join(dir, 'config.json')} (not found)`));
        assert.ok(result.stderr.includes(`${SYSTEM_CONFIG} (not found)`));
        assert.match(result.stderr, /ship-hub config init/);
      }
      assert.deepEqual(tree(dir), [], 'no ./data or ./certs appeared');
    },
  );

  it('$SHIPHUB_CONFIG is used, and its relative paths resolve next to it', async () => {
    const dir = await configDir();
    const elsewhere = mkdtempSync(join(tmpdir(), 'ship-hub-cli-cwd-'));
    dirs.push(elsewhere);
    const result = runIn(elsewhere, ['trust', 'list'], {
      SHIPHUB_CONFIG: join(dir, 'config.json'),
    });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(result.stdout.includes(join(dir, 'data', 'trusted_devices.json')), result.stdout);
    assert.deepEqual(tree(elsewhere), []);
  });

  it('config init writes a loadable file, says where its files go; --if-missing keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ship-hub-cli-'));
    dirs.push(dir);
    const init = runIn(dir, ['config', 'init', 'sub/config.json']);
    assert.equal(init.status, 0, init.stderr);
    const file = join(dir, 'sub', 'config.json');
    assert.ok(init.stdout.includes(`wrote ${file}`));
    assert.ok(init.stdout.includes(join(dir, 'sub', 'data')));
    const written = readFileSync(file, 'utf8');
    assert.equal(runIn(dir, ['config', 'init', 'sub/config.json']).status, 2, 'not overwritten');
    // What `npm start` runs first (package.json "prestart"): idempotent.
    assert.equal(runIn(dir, ['config', 'init', '--if-missing', 'sub/config.json']).status, 0);
    assert.equal(readFileSync(file, 'utf8'), written);
    const list = runIn(dir, ['trust', 'list', '--config', 'sub/config.json']);
    assert.equal(list.status, 0, list.stderr);
  });
});

describe('a config file that is a symbolic link', () => {
  it('resolves its relative paths next to its target', async () => {
    const dir = await configDir();
    const linkDir = mkdtempSync(join(tmpdir(), 'ship-hub-cli-link-'));
    dirs.push(linkDir);
    symlinkSync(join(dir, 'config.json'), join(linkDir, 'config.json'));
    const result = runIn(linkDir, ['trust', 'list', '--config', join(linkDir, 'config.json')]);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(result.stdout.includes(join(dir, 'data', 'trusted_devices.json')), result.stdout);
  });
});
