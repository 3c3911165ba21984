/**
 * Files people touch by hand and the lock of the data directory: the lock (free, held by a live
 * process, stale, garbage), duplicate keys and error positions in trusted_devices.json, a
 * symlinked trust file, error messages that never echo another file's content, and a broken
 * hub_state.json kept aside.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acquireDataLock,
  dataLockPath,
  inspectLock,
  LockHeldError,
} from '../../../src/ops/data-lock.js';
import { ConfigError } from '../../../src/ship/errors.js';
import { StateStore } from '../../../src/trust/state-store.js';
import { TrustStore } from '../../../src/trust/trust-store.js';
import { checkJsonText } from '../../../src/util/json-check.js';
import { writeFileAtomic } from '../../../src/util/atomic-file.js';

const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';
const SKI2 = '0123456789abcdef0123456789abcdef01234567';
const clock = { wallNow: () => new Date('2024-01-09T10:30:00Z') };

function entry(ski: string) {
  return {
    ski,
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
async function freshDir(): Promise<string> {
  const sub = join(dir, `case-${++n}`);
  await mkdir(sub, { recursive: true });
  return sub;
}

/** The pid of a process that has exited (spawned and awaited here). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiphub-files-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('data directory lock', () => {
  it('lives next to trusted_devices.json', () => {
    assert.equal(
      dataLockPath({ trusted_devices_file: '/opt/ship-hub/data/trusted_devices.json' }),
      '/opt/ship-hub/data/ship-hub.lock',
    );
  });

  it('free: taken with our pid, refused to a second holder, removed on release', async () => {
    const path = join(await freshDir(), 'ship-hub.lock');
    assert.deepEqual(await inspectLock(path), { state: 'free' });
    const lock = await acquireDataLock(path);
    assert.equal(await readFile(path, 'utf8'), `${process.pid}\n`);
    assert.deepEqual(await inspectLock(path), { state: 'held', pid: process.pid });
    await assert.rejects(acquireDataLock(path), (error: unknown) => {
      assert.ok(error instanceof LockHeldError);
      assert.equal(error.code, 'SHIPHUB_ERR_LOCKED');
      assert.equal(error.pid, process.pid);
      return true;
    });
    await lock.release();
    assert.deepEqual(await inspectLock(path), { state: 'free' });
    assert.deepEqual(await readdir(join(path, '..')), [], 'no temporary files left');
  });

  it('held by a live process: refused, naming the file and the holder pid; file kept', async () => {
    const path = join(await freshDir(), 'ship-hub.lock');
    // The test runner that started this file is alive for as long as we run.
    const holder = process.ppid;
    await writeFile(path, `${holder}\n`);
    await assert.rejects(acquireDataLock(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'SHIPHUB_ERR_LOCKED');
      assert.ok(error.message.includes(path), error.message);
      assert.ok(error.message.includes(`process ${holder}`), error.message);
      return true;
    });
    assert.equal(await readFile(path, 'utf8'), `${holder}\n`);
  });

  it('stale (the holder is dead): taken over', async () => {
    const path = join(await freshDir(), 'ship-hub.lock');
    const dead = await deadPid();
    await writeFile(path, `${dead}\n`);
    assert.deepEqual(await inspectLock(path), { state: 'stale', pid: dead });
    const lock = await acquireDataLock(path);
    assert.equal(await readFile(path, 'utf8'), `${process.pid}\n`);
    await lock.release();
    assert.deepEqual(await readdir(join(path, '..')), []);
  });

  for (const [name, content] of [
    ['empty', ''],
    ['garbage', 'root:x:0:0:root:/root:/bin/bash\n'],
    ['a negative pid', '-5\n'],
    ['pid 0', '0\n'],
  ] as const) {
    it(`a lock file holding ${name} is stale and taken over`, async () => {
      const path = join(await freshDir(), 'ship-hub.lock');
      await writeFile(path, content);
      assert.deepEqual(await inspectLock(path), { state: 'stale' });
      const lock = await acquireDataLock(path);
      assert.equal(await readFile(path, 'utf8'), `${process.pid}\n`);
      await lock.release();
    });
  }

  it('release leaves a lock that is no longer ours alone', async () => {
    const path = join(await freshDir(), 'ship-hub.lock');
    const lock = await acquireDataLock(path);
    await writeFile(path, `${process.ppid}\n`); // someone took it over (simulated)
    await lock.release();
    assert.equal(await readFile(path, 'utf8'), `${process.ppid}\n`);
  });
});

describe('checkJsonText', () => {
  it('reports the line and column of the error itself, not the end of the file', () => {
    const text = '{\n  "a": 1 "b": 2,\n  "c": 3,\n  "d": 4\n}\n';
    const problem = checkJsonText(text);
    assert.equal(problem?.kind, 'syntax');
    assert.equal(problem?.line, 2);
    assert.equal(problem?.column, 10);
    assert.match(problem?.message ?? '', /expected ',' or '}' after a property value/);
  });

  for (const [text, line, column] of [
    ['{\n  "a": tru\n}', 2, 8],
    ['{\n  "a": 01\n}', 2, 8],
    ['{\n  "a": "x\n"}', 2, 10],
    ['{\n  "a": 1,\n}', 3, 1],
    ['[1,\n 2,\n ]', 3, 2],
    ['{"a": 1}\n{"b": 2}', 2, 1],
    ['{\n  "a": "\\q"\n}', 2, 9],
    ['{\n  "a": [1, 2\n', 3, 1],
  ] as const) {
    it(`${JSON.stringify(text)}: line ${line}, column ${column}`, () => {
      const problem = checkJsonText(text);
      assert.equal(problem?.kind, 'syntax');
      assert.deepEqual([problem?.line, problem?.column], [line, column]);
      assert.throws(() => JSON.parse(text), 'JSON.parse agrees that it is invalid');
    });
  }

  it('accepts everything JSON.parse accepts here', () => {
    for (const text of [
      '{}',
      '[]',
      '0',
      '-1.5e+3',
      '"\\u00e9"',
      ' {"a":[1,{"b":null}],"c":true} ',
    ]) {
      assert.equal(checkJsonText(text), undefined, text);
    }
  });

  it('finds a duplicate key with both lines (nested too), but not equal keys in sibling objects', () => {
    const text = '{\n  "x": { "a": 1 },\n  "y": { "a": 2,\n    "a": 3 }\n}';
    const problem = checkJsonText(text);
    assert.equal(problem?.kind, 'duplicate-key');
    assert.equal(problem?.key, 'a');
    assert.equal(problem?.line, 4);
    assert.equal(problem?.firstLine, 3);
  });

  it('refuses nesting deeper than 512 levels without overflowing the stack', () => {
    const text = '['.repeat(100_000);
    assert.match(checkJsonText(text)?.message ?? '', /nested deeper than 512/);
  });
});

describe('trusted_devices.json written by hand', () => {
  it('a duplicate entry is refused with the line of the duplicate (not silently dropped)', async () => {
    const path = join(await freshDir(), 'trusted_devices.json');
    const one = JSON.stringify(entry(SKI), null, 2).replace(/\n/g, '\n  ');
    const text = `{\n  "${SKI}": ${one},\n  "${SKI2}": ${JSON.stringify(entry(SKI2))},\n  "${SKI}": ${JSON.stringify(entry(SKI))}\n}\n`;
    await writeFile(path, text);
    await assert.rejects(TrustStore.open(path, { clock }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'SHIPHUB_ERR_STORE_INVALID');
      assert.match(error.message, new RegExp(`has the key "${SKI}" twice: line 12 repeats`));
      assert.match(error.message, /the key of line 2/);
      return true;
    });
    assert.equal(await readFile(path, 'utf8'), text, 'left untouched');
  });

  it('a syntax error on line 2 is reported on line 2 (Node 20 gives no position there)', async () => {
    const path = join(await freshDir(), 'trusted_devices.json');
    const text = `{\n  "${SKI}": { "ski": tru },\n  "other": {}\n}\n`;
    // Node 20: "Unexpected token ..., "<the text>" is not valid JSON": no position (the old
    // code then reported the end of the file) and the file's text quoted.
    if (process.versions.node.startsWith('20.')) {
      assert.throws(
        () => JSON.parse(text),
        (error: Error) => !/position \d+/.test(error.message),
      );
    }
    await writeFile(path, text);
    await assert.rejects(TrustStore.open(path, { clock }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /is not valid JSON at line 2, column 56: unexpected character/);
      assert.doesNotMatch(error.message, /tru\b|other/);
      return true;
    });
  });

  it('a symlink to another file: the error never shows that file’s content', async () => {
    const sub = await freshDir();
    const secret = join(sub, 'passwd');
    await writeFile(secret, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/sh\n');
    const path = join(sub, 'trusted_devices.json');
    await symlink(secret, path);
    await assert.rejects(TrustStore.open(path, { clock }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /not valid JSON at line 1, column 1/);
      assert.doesNotMatch(error.message, /root|bin\/bash|daemon|x:0/);
      assert.doesNotMatch(error.cause instanceof Error ? error.cause.message : '', /root/);
      return true;
    });
    // The same for the state file and a truncated JSON whose next line holds a secret.
    const state = join(sub, 'hub_state.json');
    await writeFile(state, '{ "restarts": 1,\n  "token": "s3cr3t-value" "x": 1 }');
    await assert.rejects(
      StateStore.open(state, {
        clock: {
          ...clock,
          now: () => 0,
          setTimer: () => ({ cancel: () => undefined }),
          listTimers: () => [],
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /line 2, column 27/);
        assert.doesNotMatch(error.message, /s3cr3t/);
        return true;
      },
    );
  });

  it('a symlinked trust file stays a symlink: writes replace the file it points to', async () => {
    const sub = await freshDir();
    await mkdir(join(sub, 'real'));
    const target = join(sub, 'real', 'trusted.json');
    await writeFile(target, '{}\n');
    const path = join(sub, 'trusted_devices.json');
    await symlink('real/trusted.json', path);
    const store = await TrustStore.open(path, { clock });
    await store.add({ ski: SKI, brand: 'Acme' });
    assert.ok((await lstat(path)).isSymbolicLink(), 'still a symlink');
    assert.equal(await readlink(path), 'real/trusted.json');
    assert.equal(JSON.parse(await readFile(target, 'utf8'))[SKI].brand, 'Acme');
    assert.deepEqual(await readdir(join(sub, 'real')), ['trusted.json'], 'no temp files left');
    assert.deepEqual((await readdir(sub)).sort(), ['real', 'trusted_devices.json']);
  });

  it('a dangling symlink is followed too: the file is created where it points', async () => {
    const sub = await freshDir();
    const path = join(sub, 'link.json');
    await symlink('missing/target.json', path);
    await writeFileAtomic(path, '{}\n');
    assert.ok((await lstat(path)).isSymbolicLink());
    assert.equal(await readFile(join(sub, 'missing/target.json'), 'utf8'), '{}\n');
  });

  it('reload picks up a hand edit; an invalid edit keeps the old state', async () => {
    const path = join(await freshDir(), 'trusted_devices.json');
    await writeFile(path, `${JSON.stringify({ [SKI]: entry(SKI) }, null, 2)}\n`);
    const store = await TrustStore.open(path, { clock });
    await writeFile(path, `${JSON.stringify({ [SKI2]: entry(SKI2) }, null, 2)}\n`);
    assert.deepEqual(await store.reload(), { added: [SKI2], removed: [SKI], size: 1 });
    assert.ok(store.has(SKI2));
    await writeFile(path, `{ "${SKI2}": {}, "${SKI2}": {} }`);
    await assert.rejects(store.reload(), /twice/);
    assert.deepEqual(
      store.list().map((d) => d.ski),
      [SKI2],
      'the old state is kept',
    );
  });
});

describe('hub_state.json broken', () => {
  const fakeClock = {
    now: () => 0,
    wallNow: () => new Date('2024-01-09T10:30:00Z'),
    setTimer: () => ({ cancel: () => undefined }),
    listTimers: () => [],
  };

  it('with onCorrupt: kept aside as .corrupt-<time>, start with fresh counters', async () => {
    const sub = await freshDir();
    const path = join(sub, 'hub_state.json');
    const broken = '{ "total_connections": 5, "restarts": ';
    await writeFile(path, broken);
    const reported: Array<{ error: ConfigError; keptAt: string }> = [];
    const store = await StateStore.open(path, {
      clock: fakeClock,
      onCorrupt: (error, keptAt) => reported.push({ error, keptAt }),
    });
    assert.equal(store.snapshot.total_connections, 0);
    assert.equal(reported.length, 1);
    const aside = join(sub, 'hub_state.json.corrupt-20240109T103000Z');
    assert.equal(reported[0]?.keptAt, aside);
    assert.match(reported[0]?.error.message ?? '', /not valid JSON at line 1/);
    assert.equal(await readFile(aside, 'utf8'), broken, 'kept byte for byte');
    await store.markStarted();
    assert.equal(JSON.parse(await readFile(path, 'utf8')).restarts, 0);
    // A second broken file in the same second does not replace the first copy.
    await writeFile(path, '[]');
    await StateStore.open(path, { clock: fakeClock, onCorrupt: () => undefined });
    assert.equal(await readFile(aside, 'utf8'), broken);
    assert.equal(await readFile(`${aside}-1`, 'utf8'), '[]');
  });
});
