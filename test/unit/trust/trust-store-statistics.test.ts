/**
 * TrustStore with `statisticsDelayMs`: connection statistics (last_connection, connection_count)
 * wait in memory for one delayed write, trust decisions do not (docs/config.md, "The trusted
 * devices file"; the daemon's CPU per handshake in docs/performance.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustStore, type TrustedDevice } from '../../../src/trust/trust-store.js';
import { withWriteQueue } from '../../../src/util/atomic-file.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';
const SKI2 = '0123456789abcdef0123456789abcdef01234567';
const DELAY_MS = 5_000;

let dir: string;
let n = 0;

/** A store holding SKI (connection_count 1) in a fresh directory, with delayed statistics. */
async function openStore(clock: FakeClock): Promise<{ store: TrustStore; path: string }> {
  const sub = join(dir, `case-${++n}`);
  await mkdir(sub, { recursive: true });
  const path = join(sub, 'trusted_devices.json');
  const entry = {
    ski: SKI,
    brand: 'Viessmann',
    model: 'Vitocaldens',
    device_type: 'HeatPump',
    paired_at: '2024-01-09T10:30:00Z',
    last_connection: '2024-01-09T10:30:00Z',
    connection_count: 1,
  };
  await writeFile(path, `${JSON.stringify({ [SKI]: entry }, null, 2)}\n`);
  const store = await TrustStore.open(path, { clock, statisticsDelayMs: DELAY_MS });
  return { store, path };
}

async function onDisk(path: string): Promise<Record<string, TrustedDevice>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, TrustedDevice>;
}

/** Resolves after every write of `path` queued so far (all store writes go through the queue). */
function afterQueuedWrites(path: string): Promise<void> {
  return withWriteQueue(path, () => Promise.resolve());
}

/** Whether the promise has settled, to look without awaiting it. */
function track(promise: Promise<unknown>): { settled: () => boolean } {
  let done = false;
  const mark = () => {
    done = true;
  };
  promise.then(mark, mark);
  return { settled: () => done };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiphub-trust-stats-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TrustStore delayed connection statistics', () => {
  it('are in memory at once and on disk after the delay, several connections in one write', async () => {
    const clock = new FakeClock();
    const { store, path } = await openStore(clock);
    const firstWritten = store.recordConnection(SKI);
    const first = track(firstWritten);
    const second = store.recordConnection(SKI);
    assert.equal(store.get(SKI)?.connection_count, 3, 'the view counts at once');
    assert.deepEqual(clock.pendingTimers(), ['trust-store.statistics'], 'one timer for both');
    await afterQueuedWrites(path);
    assert.equal((await onDisk(path))[SKI]?.connection_count, 1, 'not written before the delay');
    assert.equal(first.settled(), false, 'not acknowledged before it is on disk');
    await store.flush();
    assert.equal((await firstWritten)?.connection_count, 2, 'flush() writes them at once');
    assert.equal((await second)?.connection_count, 3);
    assert.equal((await onDisk(path))[SKI]?.connection_count, 3);
    assert.deepEqual(clock.pendingTimers(), [], 'flush cancelled the timer');

    const third = store.recordConnection(SKI);
    await afterQueuedWrites(path);
    assert.equal((await onDisk(path))[SKI]?.connection_count, 3, 'not written before the delay');
    clock.advance(DELAY_MS);
    const entry = await third;
    assert.equal(entry?.connection_count, 4);
    assert.equal((await onDisk(path))[SKI]?.connection_count, 4, 'written when the timer fired');
  });

  it('a trust decision is written at once and carries the waiting statistics along', async () => {
    const clock = new FakeClock();
    const { store, path } = await openStore(clock);
    const counted = store.recordConnection(SKI);
    await store.add({ ski: SKI2, brand: 'Acme' });
    const file = await onDisk(path);
    assert.equal(file[SKI2]?.brand, 'Acme', 'the add is durable when it resolves');
    assert.equal(file[SKI]?.connection_count, 2, 'the statistics went with it');
    clock.advance(DELAY_MS);
    assert.equal((await counted)?.connection_count, 2);
    await store.remove(SKI2);
    assert.equal((await onDisk(path))[SKI2], undefined);
  });

  it("reload keeps a person's edit and puts the waiting statistics on top of it", async () => {
    const clock = new FakeClock();
    const { store, path } = await openStore(clock);
    const counted = store.recordConnection(SKI);
    // A person edits the file (a new brand, another device) and sends SIGHUP.
    const edited = await onDisk(path);
    edited[SKI] = { ...edited[SKI]!, brand: 'Edited' };
    edited[SKI2] = { ...edited[SKI], ski: SKI2, connection_count: 0 } as TrustedDevice;
    await writeFile(path, `${JSON.stringify(edited, null, 2)}\n`);
    const result = await store.reload();
    assert.deepEqual(result.added, [SKI2]);
    assert.equal(store.get(SKI)?.brand, 'Edited');
    assert.equal(store.get(SKI)?.connection_count, 2, 'the waiting connection is still counted');
    assert.equal((await onDisk(path))[SKI]?.brand, 'Edited', 'the reload wrote nothing over it');
    clock.advance(DELAY_MS);
    assert.equal((await counted)?.connection_count, 2);
    const file = await onDisk(path);
    assert.equal(file[SKI]?.brand, 'Edited');
    assert.equal(file[SKI]?.connection_count, 2);
    assert.equal(file[SKI2]?.connection_count, 0);
  });

  it('a timer that fires during a reload writes the edit with the statistics, never the old file', async () => {
    const clock = new FakeClock();
    const { store, path } = await openStore(clock);
    const counted = store.recordConnection(SKI);
    // A person removes SKI by hand and adds SKI2.
    const original = (await onDisk(path))[SKI]!;
    const edited = { [SKI2]: { ...original, ski: SKI2, connection_count: 5 } };
    await writeFile(path, `${JSON.stringify(edited, null, 2)}\n`);
    const reloading = store.reload();
    // The statistics' write is due while the reload reads: it waits for the reload's turn.
    clock.advance(DELAY_MS);
    const result = await reloading;
    assert.deepEqual(result.removed, [SKI], 'the device removed by hand is gone');
    await counted;
    const file = await onDisk(path);
    assert.equal(file[SKI], undefined, 'and stays gone on disk');
    assert.equal(file[SKI2]?.connection_count, 5);
    assert.equal(store.has(SKI), false);
  });

  it('waiting statistics taken by a trust change that fails are reported failed, not written', async () => {
    const clock = new FakeClock();
    const { store, path } = await openStore(clock);
    const counted = store.recordConnection(SKI);
    await rm(path);
    await mkdir(path);
    await assert.rejects(store.add({ ski: SKI2 }), { code: 'SHIPHUB_ERR_STORAGE' });
    await assert.rejects(counted, { code: 'SHIPHUB_ERR_STORAGE' });
    assert.equal(store.get(SKI)?.connection_count, 1, 'undone in memory too');
  });

  it('a delayed write that fails rejects with SHIPHUB_ERR_STORAGE and undoes the statistics', async () => {
    const clock = new FakeClock();
    const { store, path } = await openStore(clock);
    // A directory where the file was makes the rename fail, as a full disk makes the write fail.
    await rm(path);
    await mkdir(path);
    const counted = store.recordConnection(SKI);
    clock.advance(DELAY_MS);
    await assert.rejects(counted, { code: 'SHIPHUB_ERR_STORAGE' });
    assert.equal(store.get(SKI)?.connection_count, 1, 'memory equals the file again');
    assert.equal(store.lastWriteError?.message.includes(path), true);
  });

  it('needs a clock with a timer', async () => {
    const sub = join(dir, `case-${++n}`);
    await assert.rejects(
      TrustStore.open(join(sub, 'trusted_devices.json'), {
        clock: { wallNow: () => new Date() },
        statisticsDelayMs: DELAY_MS,
      }),
      /statisticsDelayMs needs a clock with setTimer/,
    );
  });
});
