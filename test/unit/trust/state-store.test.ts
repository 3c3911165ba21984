import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/ship/errors.js';
import { StateStore } from '../../../src/trust/state-store.js';
import type { Clock, TimerHandle } from '../../../src/util/clock.js';

/** Minimal fake clock: timers fire only when advanced. */
function fakeClock(iso: string) {
  let wall = new Date(iso).getTime();
  let now = 0;
  const timers: { name: string; at: number; cb: () => void; live: boolean }[] = [];
  const clock: Clock & { advance(ms: number): void; pending(): string[] } = {
    now: () => now,
    wallNow: () => new Date(wall),
    setTimer(name, delayMs, cb): TimerHandle {
      const timer = { name, at: now + delayMs, cb, live: true };
      timers.push(timer);
      return { cancel: () => void (timer.live = false) };
    },
    advance(ms) {
      now += ms;
      wall += ms;
      for (const t of timers) {
        if (t.live && t.at <= now) {
          t.live = false;
          t.cb();
        }
      }
    },
    pending: () => timers.filter((t) => t.live).map((t) => t.name),
    listTimers: () =>
      timers.filter((t) => t.live).map((t) => ({ name: t.name, dueAt: t.at, unref: true })),
  };
  return clock;
}

let dir: string;
let n = 0;
async function freshPath(content?: string): Promise<string> {
  const sub = join(dir, `case-${++n}`);
  await mkdir(sub, { recursive: true });
  const path = join(sub, 'hub_state.json');
  if (content !== undefined) await writeFile(path, content);
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiphub-state-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('StateStore', () => {
  it('starts at zero, records starts and restarts', async () => {
    const path = await freshPath();
    const clock = fakeClock('2024-01-09T08:15:00Z');
    const first = await StateStore.open(path, { clock });
    assert.equal(first.snapshot.total_connections, 0);
    await first.markStarted();
    assert.equal(
      await readFile(path, 'utf8'),
      `{
  "total_connections": 0,
  "failed_connections": 0,
  "handshakes": 0,
  "error_counts": {},
  "first_started_at": "2024-01-09T08:15:00Z",
  "last_started_at": "2024-01-09T08:15:00Z",
  "restarts": 0
}
`,
    );
    clock.advance(3_600_000);
    const second = await StateStore.open(path, { clock });
    await second.markStarted();
    assert.deepEqual(second.snapshot, {
      total_connections: 0,
      failed_connections: 0,
      handshakes: 0,
      error_counts: {},
      first_started_at: '2024-01-09T08:15:00Z',
      last_started_at: '2024-01-09T09:15:00Z',
      restarts: 1,
    });
  });

  it('coalesces counter changes into one delayed write', async () => {
    const path = await freshPath();
    const clock = fakeClock('2024-01-09T08:15:00Z');
    const store = await StateStore.open(path, { clock, flushDelayMs: 1000 });
    store.recordConnection();
    store.recordConnection();
    store.recordHandshake();
    store.recordFailedConnection('connection_failed');
    store.recordError('trust_rejected');
    store.recordError('not a tame reason!');
    assert.deepEqual(clock.pending(), ['state-store.flush']);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    clock.advance(1000);
    await store.flush();
    const written = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(written.total_connections, 2);
    assert.equal(written.handshakes, 1);
    assert.equal(written.failed_connections, 1);
    assert.deepEqual(written.error_counts, { connection_failed: 1, trust_rejected: 1, other: 1 });
    assert.deepEqual(clock.pending(), []);
  });

  it('flushes on close', async () => {
    const path = await freshPath();
    const store = await StateStore.open(path, { clock: fakeClock('2024-01-09T08:15:00Z') });
    store.recordConnection();
    await store.close();
    assert.equal(JSON.parse(await readFile(path, 'utf8')).total_connections, 1);
  });

  it('keeps unknown fields', async () => {
    const path = await freshPath('{ "total_connections": 5, "note": "migrated from Go" }');
    const store = await StateStore.open(path, { clock: fakeClock('2024-01-09T08:15:00Z') });
    store.recordConnection();
    await store.flush();
    const written = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(written.total_connections, 6);
    assert.equal(written.note, 'migrated from Go');
  });

  const broken: [string, string, RegExp][] = [
    ['not JSON', '{ "total_connections": ', /not valid JSON at line 1, column 24/],
    ['an array', '[]', /must be a JSON object/],
    [
      'a negative counter',
      '{ "restarts": -2 }',
      /"restarts": expected a non-negative integer, got -2/,
    ],
    [
      'a bad time',
      '{ "first_started_at": "monday" }',
      /"first_started_at": expected an RFC 3339 time/,
    ],
    [
      'bad error counts',
      '{ "error_counts": { "x": "many" } }',
      /"error_counts"\."x": expected a non-negative integer/,
    ],
  ];
  for (const [name, content, message] of broken) {
    it(`refuses ${name} and leaves the file untouched`, async () => {
      const path = await freshPath(content);
      const before = await stat(path);
      await assert.rejects(
        StateStore.open(path, { clock: fakeClock('2024-01-09T08:15:00Z') }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.code, 'SHIPHUB_ERR_STORE_INVALID');
          assert.match(error.message, message);
          assert.ok(error.message.startsWith(path));
          return true;
        },
      );
      assert.equal(await readFile(path, 'utf8'), content);
      assert.equal((await stat(path)).mtimeMs, before.mtimeMs);
    });
  }
});
