/**
 * The admin token file: created once with mode 0600 and reused; refused, naming the file, when
 * others may read it, when it is not a regular file, or when it is too short; the CLI's reader
 * says what to do when it may not read it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateAdminToken, readAdminTokenFile } from '../../../src/ops/admin-token.js';
import { ConfigError } from '../../../src/ship/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ship-hub-admin-token-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('admin token file', () => {
  it('is created 0600 at the first start and the same token is read afterwards', async () => {
    const path = join(dir, 'data', 'admin.token');
    assert.equal(readAdminTokenFile(path), undefined, 'no file yet: no token, no error');
    const token = await loadOrCreateAdminToken(path);
    assert.ok(token.length >= 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(await loadOrCreateAdminToken(path), token, 'reused, never replaced');
    assert.equal(readAdminTokenFile(path), token, 'what the CLI reads');
  });

  it('two starts at once agree on one token', async () => {
    const path = join(dir, 'race', 'admin.token');
    const tokens = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateAdminToken(path)));
    assert.equal(new Set(tokens).size, 1);
  });

  it('refuses a token file others may read, a symlink, a directory and a short token', async () => {
    const open = join(dir, 'open.token');
    writeFileSync(open, 'x'.repeat(40));
    chmodSync(open, 0o644);
    await assert.rejects(
      loadOrCreateAdminToken(open),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes(open) &&
        /mode 644/.test(e.message) &&
        /chmod 600/.test(e.message),
    );
    const link = join(dir, 'link.token');
    symlinkSync('/etc/hostname', link);
    await assert.rejects(loadOrCreateAdminToken(link), /a symbolic link/);
    await assert.rejects(loadOrCreateAdminToken(dir), /a directory/);
    const short = join(dir, 'short.token');
    writeFileSync(short, 'abc\n', { mode: 0o600 });
    await assert.rejects(loadOrCreateAdminToken(short), /at least 16 characters/);
  });
});
