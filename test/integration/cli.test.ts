/**
 * The `ship-hub` command line as a user meets it: --version, help and a mistyped command. The
 * built CLI runs as a child process; nothing here opens a network socket.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLI = 'build/src/cli/main.js';

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('ship-hub command line', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = run(flag);
      assert.equal(result.status, 0);
      assert.equal(result.stdout.trim(), pkg.version);
    }
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
  });
});
