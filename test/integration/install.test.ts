/**
 * The package as an installer gets it: `npm pack` makes the tarball, which is installed into a
 * temporary prefix the way `npm install -g ship-hub-<version>.tgz` lays it out
 * (<prefix>/lib/node_modules/ship-hub, <prefix>/bin/ship-hub), and the installed binary is run:
 * --version, config init, the daemon on a loopback config without mDNS, trust list through its
 * admin API, SIGTERM. No network: the tarball carries its dependencies (`bundleDependencies`),
 * exactly the versions this checkout's tests ran with, and the installed binary runs on them
 * alone (npm install -g of a tarball would otherwise resolve every dependency afresh, ignoring
 * any lockfile, and took releases that warn EBADENGINE on Node 20).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { collectJsonLines } from '../helpers/ndjson.js';
import { freePort } from '../helpers/ports.js';

const CHECKOUT = resolve('.');
const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  // A daemon left by a failed or timed-out test is stopped here.
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The environment without SHIPHUB_* variables, with the prefix's bin first on PATH. */
function envWith(bin: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SHIPHUB_')),
  );
  return { ...env, PATH: `${bin}:${process.env.PATH ?? ''}` };
}

describe('npm pack, install into a prefix, run the installed ship-hub', () => {
  it('packs a complete package whose installed binary works', { timeout: 120_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), 'ship-hub-install-'));
    dirs.push(work);

    // --ignore-scripts: the build under test is the one already made (prepack would rebuild it).
    const pack = spawnSync(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
      { cwd: CHECKOUT, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(pack.status, 0, pack.stderr);
    const [packed] = JSON.parse(pack.stdout) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    assert.ok(packed !== undefined);
    const files = new Set(packed.files.map((f) => f.path));
    for (const needed of [
      'package.json',
      'LICENSE',
      'README.md',
      'build/src/cli/main.js',
      'build/src/index.js',
      'build/src/index.d.ts',
      'deploy/ship-hub.service',
    ]) {
      assert.ok(files.has(needed), `${needed} is in the package`);
    }
    // Every runtime dependency is in the package, at the version the tests ran with; no dev one.
    const manifest = JSON.parse(readFileSync(join(CHECKOUT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    /** The version of `name` as Node resolves it from package `from` under `root`. */
    const versionFrom = (root: string, from: string, name: string) => {
      const resolveFrom = createRequire(join(root, 'node_modules', from, 'package.json'));
      return (
        JSON.parse(readFileSync(resolveFrom.resolve(`${name}/package.json`), 'utf8')) as {
          version: string;
        }
      ).version;
    };
    for (const name of Object.keys(manifest.dependencies)) {
      assert.ok(files.has(`node_modules/${name}/package.json`), `${name} is bundled`);
    }
    for (const name of Object.keys(manifest.devDependencies)) {
      assert.equal(files.has(`node_modules/${name}/package.json`), false, `${name} is not`);
    }
    // No compiled addon: one would be built for the packer's Node and CPU (dbus-next's optional
    // usocket, when build tools were there at npm ci); pack after `npm ci --omit=optional`.
    const addons = [...files].filter((f) => f.endsWith('.node'));
    assert.deepEqual(addons, [], 'no native addon is bundled');
    assert.ok(![...files].some((f) => f.startsWith('build/test/')), 'no tests in the package');

    // What `npm install -g` lays out, without fetching the dependencies.
    const prefix = join(work, 'prefix');
    const installed = join(prefix, 'lib', 'node_modules', 'ship-hub');
    mkdirSync(installed, { recursive: true });
    const untar = spawnSync(
      'tar',
      ['-xzf', join(work, packed.filename), '-C', installed, '--strip-components=1'],
      { encoding: 'utf8' },
    );
    assert.equal(untar.status, 0, untar.stderr);
    // A dependency fastify resolves afresh to a release for newer Node (light-my-request, through
    // it cookie@2) is the tested one.
    assert.equal(
      versionFrom(installed, 'fastify', 'light-my-request'),
      versionFrom(CHECKOUT, 'fastify', 'light-my-request'),
    );
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      version: string;
      bin: Record<string, string>;
    };
    const bin = join(prefix, 'bin');
    mkdirSync(bin);
    const target = join(installed, pkg.bin['ship-hub'] ?? 'missing');
    chmodSync(target, 0o755);
    symlinkSync(target, join(bin, 'ship-hub'));
    const env = envWith(bin);
    const shipHub = (args: string[]) =>
      spawnSync('ship-hub', args, { cwd: work, env, encoding: 'utf8', timeout: 30_000 });

    const version = shipHub(['--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);

    const config = join(work, 'etc', 'config.json');
    const init = shipHub(['config', 'init', config]);
    assert.equal(init.status, 0, init.stderr);
    const values = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
    const adminPort = await freePort();
    Object.assign(values, {
      port: await freePort(),
      admin_port: adminPort,
      mdns_enabled: false,
      log_format: 'json',
    });
    await writeFile(config, `${JSON.stringify(values, null, 2)}\n`);
    assert.equal(shipHub(['config', 'check', config]).status, 0);

    const daemon = spawn('ship-hub', [config], {
      cwd: work,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(daemon);
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    daemon.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => daemon.once('exit', (code) => done(code)));
    const adminListening = new Promise<void>((done, fail) => {
      collectJsonLines(daemon.stdout, lines, () => {
        if (lines.some((l) => l.event === 'admin_listening')) done();
      });
      void exited.then((code) => fail(new Error(`daemon exited (${code}) early: ${stderr}`)));
    });
    try {
      await adminListening;
      const list = shipHub(['trust', 'list', '--config', config]);
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /\(none\)/);
      assert.match(
        list.stdout,
        new RegExp(`through the daemon at http://127\\.0\\.0\\.1:${adminPort}`),
      );
    } finally {
      daemon.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `SIGTERM ends the daemon cleanly: ${stderr}`);
    assert.ok(lines.some((l) => l.event === 'stopped'));
  });
});
