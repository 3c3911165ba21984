import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from '../../../src/util/atomic-file.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiphub-atomic-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates parent directories and leaves no temporary file', async () => {
    const path = join(dir, 'a/b/c.json');
    await writeFileAtomic(path, '{}\n');
    assert.equal(await readFile(path, 'utf8'), '{}\n');
    assert.deepEqual(await readdir(join(dir, 'a/b')), ['c.json']);
  });

  it('replaces an existing file and writes bytes', async () => {
    const path = join(dir, 'bytes.bin');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await readFile(path))], [1, 2, 3]);
  });

  it('applies an explicit mode and otherwise keeps the existing one', async () => {
    const path = join(dir, 'mode.json');
    await writeFileAtomic(path, 'x', { mode: 0o600 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await chmod(path, 0o640);
    await writeFileAtomic(path, 'y');
    assert.equal((await stat(path)).mode & 0o777, 0o640);
  });

  it('serialises concurrent writes to one path in call order; the last one wins', async () => {
    const path = join(dir, 'race.json');
    const finished: number[] = [];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        writeFileAtomic(path, `${JSON.stringify({ i, pad: 'x'.repeat(i * 100) })}\n`).then(() => {
          finished.push(i);
        }),
      ),
    );
    assert.deepEqual(
      finished,
      Array.from({ length: 40 }, (_, i) => i),
    );
    assert.equal(JSON.parse(await readFile(path, 'utf8')).i, 39);
    assert.deepEqual(
      await readdir(dir).then((names) => names.filter((n) => n.endsWith('.tmp'))),
      [],
    );
  });

  it('fails without touching the target or leaving a temporary file, and keeps working after', async () => {
    const sub = join(dir, 'fail');
    await mkdir(join(sub, 'target.json'), { recursive: true });
    await assert.rejects(writeFileAtomic(join(sub, 'target.json'), 'x'));
    assert.deepEqual(await readdir(sub), ['target.json']);
    assert.ok((await stat(join(sub, 'target.json'))).isDirectory());
    // The chain for the path is not poisoned.
    await rm(join(sub, 'target.json'), { recursive: true });
    await writeFileAtomic(join(sub, 'target.json'), 'ok');
    assert.equal(await readFile(join(sub, 'target.json'), 'utf8'), 'ok');
  });
});

describe('removeStaleTempFiles', () => {
  it('removes temporary files of dead writers only', async () => {
    const sub = join(dir, 'stale');
    await mkdir(sub);
    const path = join(sub, 'trusted_devices.json');
    const dead = join(sub, '.trusted_devices.json.999999999.1.abcd1234.tmp');
    const alive = join(sub, `.trusted_devices.json.${process.pid}.1.abcd1234.tmp`);
    const other = join(sub, '.other.json.999999999.1.abcd1234.tmp');
    for (const f of [path, dead, alive, other]) await writeFile(f, '{}');
    assert.deepEqual(await removeStaleTempFiles(path), [dead]);
    assert.deepEqual((await readdir(sub)).sort(), [
      `.other.json.999999999.1.abcd1234.tmp`,
      `.trusted_devices.json.${process.pid}.1.abcd1234.tmp`,
      'trusted_devices.json',
    ]);
    assert.deepEqual(await removeStaleTempFiles(join(dir, 'missing/x.json')), []);
  });
});
