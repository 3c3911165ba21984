import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/ship/errors.js';
import { TrustStore, formatTimestamp } from '../../../src/trust/trust-store.js';

const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';
const SKI2 = '0123456789abcdef0123456789abcdef01234567';

/** A wall clock that stands still until moved. */
function fixedClock(iso: string) {
  let now = new Date(iso);
  return {
    wallNow: () => now,
    set(next: string) {
      now = new Date(next);
    },
  };
}

/** A valid entry of SKI, as the seed writes it. */
function seedEntry() {
  return {
    ski: SKI,
    brand: 'Viessmann',
    model: 'Vitocaldens',
    device_type: 'HeatPump',
    paired_at: '2024-01-09T10:30:00Z',
    last_connection: '2024-01-09T10:30:00Z',
    connection_count: 1,
  };
}

let dir: string;
let n = 0;
async function freshPath(content?: string): Promise<string> {
  const sub = join(dir, `case-${++n}`);
  await mkdir(sub, { recursive: true });
  const path = join(sub, 'trusted_devices.json');
  if (content !== undefined) await writeFile(path, content);
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiphub-trust-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TrustStore format', () => {
  it('writes the seed format byte for byte (2-space JSON, trailing newline)', async () => {
    const path = await freshPath();
    const clock = fixedClock('2024-01-09T10:30:00.456Z');
    const store = await TrustStore.open(path, { clock });
    await store.add({
      ski: SKI,
      brand: 'Viessmann',
      model: 'Vitocaldens',
      device_type: 'HeatPump',
    });
    await store.recordConnection(SKI);
    const seed = `{
  "${SKI}": {
    "ski": "${SKI}",
    "brand": "Viessmann",
    "model": "Vitocaldens",
    "device_type": "HeatPump",
    "paired_at": "2024-01-09T10:30:00Z",
    "last_connection": "2024-01-09T10:30:00Z",
    "connection_count": 1
  }
}
`;
    assert.equal(await readFile(path, 'utf8'), seed);
    assert.equal(store.serialize(), seed);
  });

  it('formats times like the seed', () => {
    assert.equal(formatTimestamp(new Date('2024-01-09T10:30:00.999Z')), '2024-01-09T10:30:00Z');
  });

  it('sorts entries by SKI like Go encoding/json', async () => {
    const path = await freshPath();
    const store = await TrustStore.open(path, { clock: fixedClock('2024-01-09T10:30:00Z') });
    await store.add({ ski: SKI, brand: 'B', model: 'M', device_type: 'T' });
    await store.add({ ski: SKI2, brand: 'B', model: 'M', device_type: 'T' });
    assert.deepEqual(Object.keys(JSON.parse(await readFile(path, 'utf8'))), [SKI2, SKI]);
    assert.deepEqual(
      store.list().map((d) => d.ski),
      [SKI2, SKI],
    );
  });

  it('loads a file written by the Go hub and keeps extra fields and Go timestamps', async () => {
    const goFile = `{
  "${SKI}": {
    "ski": "${SKI}",
    "brand": "Viessmann",
    "model": "Vitocaldens",
    "device_type": "HeatPump",
    "paired_at": "2024-01-09T10:30:00.123456789+01:00",
    "last_connection": "0001-01-01T00:00:00Z",
    "connection_count": 0,
    "location": "basement",
    "notes": {
      "installer": "ACME"
    }
  }
}
`;
    const path = await freshPath(goFile);
    const store = await TrustStore.open(path, { clock: fixedClock('2024-02-01T08:00:00Z') });
    const device = store.get(SKI);
    assert.equal(device?.location, 'basement');
    assert.equal(device?.paired_at, '2024-01-09T10:30:00.123456789+01:00');
    await store.recordConnection(SKI);
    assert.equal(
      await readFile(path, 'utf8'),
      goFile
        .replace('"0001-01-01T00:00:00Z"', '"2024-02-01T08:00:00Z"')
        .replace('"connection_count": 0', '"connection_count": 1'),
    );
  });

  it('accepts SKIs in any case and format and normalises them', async () => {
    const spaced = SKI.toUpperCase().match(/..../g)!.join(' ');
    const colons = SKI.match(/../g)!.join(':');
    const path = await freshPath(
      JSON.stringify({
        [spaced]: {
          ski: colons,
          brand: 'Viessmann',
          model: 'Vitocaldens',
          device_type: 'HeatPump',
          paired_at: '2024-01-09T10:30:00Z',
          last_connection: '2024-01-09T10:30:00Z',
          connection_count: 3,
        },
      }),
    );
    const store = await TrustStore.open(path, { clock: fixedClock('2024-01-10T00:00:00Z') });
    assert.equal(store.size, 1);
    assert.equal(store.get(SKI)?.ski, SKI);
    assert.ok(store.has(SKI.toUpperCase()));
    assert.ok(store.has(colons));
    assert.ok(!store.has('nonsense'));
    await store.recordConnection(spaced);
    const written = JSON.parse(await readFile(path, 'utf8'));
    assert.deepEqual(Object.keys(written), [SKI]);
    assert.equal(written[SKI].ski, SKI);
    assert.equal(written[SKI].connection_count, 4);
  });
});

describe('TrustStore refuses broken files and never overwrites them', () => {
  const entry = (over: Record<string, unknown> = {}) => ({
    ski: SKI,
    brand: 'Viessmann',
    model: 'Vitocaldens',
    device_type: 'HeatPump',
    paired_at: '2024-01-09T10:30:00Z',
    last_connection: '2024-01-09T10:30:00Z',
    connection_count: 1,
    ...over,
  });
  const cases: [name: string, content: string, message: RegExp][] = [
    [
      'truncated JSON',
      `{\n  "${SKI}": {\n    "ski": "${SKI}",\n`,
      /is not valid JSON at line 4, column 1/,
    ],
    ['an empty file', '', /is empty/],
    ['an array', '[]', /must be a JSON object, got an array/],
    [
      'a key that is no SKI',
      JSON.stringify({ 'a1b2c3d4e5f6...': entry() }),
      /entry "a1b2c3d4e5f6\.\.\.": the key is not an SKI/,
    ],
    [
      'an entry that is no object',
      JSON.stringify({ [SKI]: 'trusted' }),
      new RegExp(`entry "${SKI}": expected an object, got "trusted"`),
    ],
    [
      'a missing ski field',
      JSON.stringify({ [SKI]: entry({ ski: undefined }) }),
      /"ski": expected the SKI as a string, got nothing/,
    ],
    [
      'key and ski disagree',
      JSON.stringify({ [SKI]: entry({ ski: SKI2 }) }),
      /"ski" is "0123456789abcdef0123456789abcdef01234567" but the entry's key is a different SKI/,
    ],
    [
      'a brand that is no string',
      JSON.stringify({ [SKI]: entry({ brand: 7 }) }),
      /"brand": expected a string, got 7/,
    ],
    [
      'a bad paired_at',
      JSON.stringify({ [SKI]: entry({ paired_at: 'yesterday' }) }),
      /"paired_at": expected an RFC 3339 time/,
    ],
    [
      'a negative count',
      JSON.stringify({ [SKI]: entry({ connection_count: -1 }) }),
      /"connection_count": expected a non-negative integer, got -1/,
    ],
    [
      'one SKI twice',
      JSON.stringify({ [SKI]: entry(), [SKI.toUpperCase()]: entry() }),
      /are the same SKI/,
    ],
  ];

  for (const [name, content, message] of cases) {
    it(name, async () => {
      const path = await freshPath(content);
      const before = await stat(path);
      const bytes = await readFile(path);
      await assert.rejects(
        TrustStore.open(path, { clock: fixedClock('2024-01-10T00:00:00Z') }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.code, 'SHIPHUB_ERR_STORE_INVALID');
          assert.ok(error.message.startsWith(`${path}: `), error.message);
          assert.match(error.message, message);
          assert.match(error.message, /untouched/);
          return true;
        },
      );
      const afterStat = await stat(path);
      assert.deepEqual(await readFile(path), bytes);
      assert.equal(afterStat.mtimeMs, before.mtimeMs);
      assert.equal(afterStat.ino, before.ino);
    });
  }
});

describe('TrustStore operations', () => {
  it('treats a missing file as empty and creates it on the first change', async () => {
    const path = join(dir, 'new/sub/trusted_devices.json');
    const store = await TrustStore.open(path, { clock: fixedClock('2024-01-09T10:30:00Z') });
    assert.deepEqual(store.list(), []);
    await store.flush();
    await assert.rejects(stat(path), { code: 'ENOENT' });
    assert.equal(await store.recordConnection(SKI), undefined);
    assert.equal(await store.remove(SKI), false);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    await store.add({ ski: SKI });
    assert.equal(JSON.parse(await readFile(path, 'utf8'))[SKI].brand, '');
  });

  it('add makes has() true at once; adding again keeps the history', async () => {
    const path = await freshPath();
    const clock = fixedClock('2024-01-09T10:30:00Z');
    const store = await TrustStore.open(path, { clock });
    const pending = store.add({
      ski: SKI,
      brand: 'Viessmann',
      model: 'Vitocaldens',
      device_type: 'HeatPump',
    });
    assert.ok(store.has(SKI));
    await pending;
    await store.recordConnection(SKI);
    clock.set('2024-03-01T00:00:00Z');
    const again = await store.add({ ski: SKI, model: 'Vitocal 250' });
    assert.equal(again.paired_at, '2024-01-09T10:30:00Z');
    assert.equal(again.connection_count, 1);
    assert.equal(again.brand, 'Viessmann');
    assert.equal(again.model, 'Vitocal 250');
    assert.throws(() => store.add({ ski: 'nope' }), TypeError);
  });

  it('recordConnection sets last_connection and counts', async () => {
    const path = await freshPath();
    const clock = fixedClock('2024-01-09T10:30:00Z');
    const store = await TrustStore.open(path, { clock });
    await store.add({ ski: SKI, brand: 'B', model: 'M', device_type: 'T' });
    clock.set('2024-01-09T11:00:00Z');
    await store.recordConnection(SKI);
    clock.set('2024-01-09T12:00:00Z');
    const device = await store.recordConnection(SKI.toUpperCase());
    assert.equal(device?.connection_count, 2);
    assert.equal(device?.last_connection, '2024-01-09T12:00:00Z');
    const reopened = await TrustStore.open(path, { clock });
    assert.deepEqual(reopened.get(SKI), device);
  });

  it('pinKey stores the key hash durably; a malformed pin in the file is refused', async () => {
    const path = await freshPath();
    const clock = fixedClock('2024-01-09T10:30:00Z');
    const store = await TrustStore.open(path, { clock });
    await store.add({ ski: SKI, brand: 'B', model: 'M', device_type: 'T' });
    const pin = 'ab'.repeat(32);
    const pinned = await store.pinKey(SKI, pin);
    assert.equal(pinned?.public_key_sha256, pin);
    assert.equal(await store.pinKey(SKI, pin), undefined, 'the same pin writes nothing');
    assert.equal(await store.pinKey(SKI2, pin), undefined, 'unknown SKI');
    const reopened = await TrustStore.open(path, { clock });
    assert.equal(reopened.get(SKI)?.public_key_sha256, pin);

    const broken = JSON.parse(await readFile(path, 'utf8')) as Record<string, object>;
    broken[SKI] = { ...broken[SKI], public_key_sha256: 'not-a-hash' };
    const brokenPath = await freshPath(JSON.stringify(broken));
    await assert.rejects(
      TrustStore.open(brokenPath, { clock }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /"public_key_sha256": expected 64 lower-case hexadecimal digits/.test(e.message),
    );
  });

  it('a static address is stored, kept on a later add without one, and checked on open', async () => {
    const path = await freshPath();
    const clock = fixedClock('2024-01-09T10:30:00Z');
    const store = await TrustStore.open(path, { clock });
    await store.add({ ski: SKI, brand: 'B', address: '192.0.2.7:4712' });
    await store.add({ ski: SKI, model: 'M' });
    const reopened = await TrustStore.open(path, { clock });
    assert.equal(reopened.get(SKI)?.address, '192.0.2.7:4712');
    assert.equal(reopened.get(SKI)?.model, 'M');

    const broken = JSON.parse(await readFile(path, 'utf8')) as Record<string, object>;
    broken[SKI] = { ...broken[SKI], address: '192.0.2.7' };
    const brokenPath = await freshPath(JSON.stringify(broken));
    await assert.rejects(
      TrustStore.open(brokenPath, { clock }),
      (e: unknown) =>
        e instanceof ConfigError && /entry ".*": "address": expected "host:port"/.test(e.message),
    );
  });

  it('serialises concurrent changes: every add lands in the file', async () => {
    const path = await freshPath();
    const store = await TrustStore.open(path, { clock: fixedClock('2024-01-09T10:30:00Z') });
    const skis = Array.from({ length: 60 }, (_, i) => i.toString(16).padStart(40, '0'));
    const first = await Promise.all(skis.slice(0, 30).map((ski) => store.add({ ski, brand: 'B' })));
    assert.equal(first.length, 30);
    // Interleave adds, removes and connections without awaiting in between.
    const mixed: Promise<unknown>[] = [];
    for (const [i, ski] of skis.entries()) {
      if (i >= 30) mixed.push(store.add({ ski, brand: 'B' }));
      if (i % 3 === 0) mixed.push(store.remove(ski));
      else mixed.push(store.recordConnection(ski));
    }
    await Promise.all(mixed);
    await store.flush();
    const onDisk = JSON.parse(await readFile(path, 'utf8'));
    const expected = skis.filter((_, i) => i % 3 !== 0);
    assert.deepEqual(Object.keys(onDisk), expected);
    assert.equal(onDisk[skis[1]!].connection_count, 1);
    assert.deepEqual(
      (await readdir(join(path, '..'))).filter((f) => f.endsWith('.tmp')),
      [],
    );
    const reopened = await TrustStore.open(path, { clock: fixedClock('2024-01-09T10:30:00Z') });
    assert.equal(reopened.serialize(), store.serialize());
  });

  it('a change that cannot be written is undone: memory equals the file (disk full)', async () => {
    const sub = join(dir, 'failing');
    const path = join(sub, 'trusted_devices.json');
    const store = await TrustStore.open(path, { clock: fixedClock('2024-01-09T10:30:00Z') });
    await writeFile(sub, 'a file where the directory should be');
    await assert.rejects(store.add({ ski: SKI }), (error: unknown) => {
      return error instanceof ConfigError && error.code === 'SHIPHUB_ERR_STORAGE';
    });
    assert.equal(store.has(SKI), false, 'the failed add is not applied');
    assert.ok(store.lastWriteError instanceof ConfigError, 'the failure is reported');
    await store.flush(); // nothing left to write: resolves
    await rm(sub);
    await store.add({ ski: SKI2 });
    assert.equal(store.lastWriteError, undefined, 'healthy again after a good write');
    assert.deepEqual(Object.keys(JSON.parse(await readFile(path, 'utf8'))), [SKI2]);
    assert.deepEqual(
      store.list().map((d) => d.ski),
      [SKI2],
    );
  });

  it('a failed write undoes only its own changes, in order; later changes still land', async () => {
    const path = await freshPath(`${JSON.stringify({ [SKI]: seedEntry() }, null, 2)}\n`);
    const store = await TrustStore.open(path, { clock: fixedClock('2024-01-09T10:30:00Z') });
    // Writes fail from now on: a directory where the file was makes the rename fail (EISDIR),
    // like a full disk makes the write fail.
    await rm(path);
    await mkdir(path);
    const counted = store.recordConnection(SKI);
    const removed = store.remove(SKI);
    assert.equal(store.has(SKI), false);
    await assert.rejects(counted, { code: 'SHIPHUB_ERR_STORAGE' });
    await assert.rejects(removed, { code: 'SHIPHUB_ERR_STORAGE' });
    assert.equal(store.get(SKI)?.connection_count, 1, 'both changes undone, in reverse order');
    await rm(path, { recursive: true });
    await store.add({ ski: SKI2 });
    const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(file).sort(), [SKI2, SKI].sort());
    assert.equal(store.serialize(), await readFile(path, 'utf8'));
  });

  it('removes stale temporary files of killed writers when opening', async () => {
    const path = await freshPath('{}\n');
    const stale = join(path, '..', '.trusted_devices.json.999999999.3.deadbeef.tmp');
    await writeFile(stale, '{');
    await TrustStore.open(path, { clock: fixedClock('2024-01-09T10:30:00Z') });
    await assert.rejects(stat(stale), { code: 'ENOENT' });
  });
});
