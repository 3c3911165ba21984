/**
 * Importing the package has no side effects (issue 11, house style "index.ts ... no side effects
 * on import"): a fresh Node process imports the entry and reports whether globalThis grew. In a
 * child process, because this test runner has already loaded half the package.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../src/index.js', import.meta.url));

const PROBE = `
const before = new Set(Object.keys(globalThis));
const entry = await import(process.argv[1]);
const added = Object.keys(globalThis).filter((key) => !before.has(key));
process.stdout.write(JSON.stringify({ added, exports: Object.keys(entry).length }));
`;

function runProbe(): Promise<{ added: string[]; exports: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', PROBE, ENTRY],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as { added: string[]; exports: number });
      },
    );
  });
}

describe('importing the package', () => {
  it('adds no globals (ciao, with its tslib helpers, is loaded only when announcing)', async () => {
    const { added, exports } = await runProbe();
    assert.ok(exports > 0, 'the probe imported the real entry');
    assert.deepEqual(added, []);
  });
});
