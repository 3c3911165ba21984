/**
 * Crash safety of trusted_devices.json: a child process changes the store in a tight loop and is
 * SIGKILLed at random moments, exactly 200 times: 1 in 10 while it starts, the others after a
 * random number (1-6) of acknowledged writes, so that a write is in flight at the kill. After every kill the file must parse, pass
 * the store's validation, and be exactly the last version the child reported on disk or the one
 * after it (the write in flight) — never partial, never empty, never older.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrustStore } from '../../src/trust/trust-store.js';
import { DEVICE_COUNT, MARKER_SKI, deviceSki } from './trust-store-kill-child.js';

const CHILD = fileURLToPath(new URL('./trust-store-kill-child.js', import.meta.url));
const KILLS = 200;

const clock = { wallNow: () => new Date('2024-01-09T10:30:00Z') };

/** The toggled devices present at version `v` (device d flips at every k ≡ d mod 10). */
function expectedDevices(v: number): string[] {
  const present: string[] = [];
  for (let d = 0; d < DEVICE_COUNT; d++) {
    const flips =
      d === 0 ? Math.floor(v / DEVICE_COUNT) : v >= d ? Math.floor((v - d) / DEVICE_COUNT) + 1 : 0;
    if (flips % 2 === 1) present.push(deviceSki(d));
  }
  return present;
}

interface Run {
  child: ChildProcess;
  /** Highest version the child reported on disk. */
  lastAck: number;
  ready: Promise<void>;
  closed: Promise<void>;
  stderr: string;
  /** Resolves once the child reported `count` versions after its start (or ended). */
  acked(count: number): Promise<void>;
}

function startChild(path: string, startVersion: number): Run {
  const child = spawn(process.execPath, [CHILD, path], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiters: Array<{ version: number; resolve: () => void }> = [];
  const run: Run = {
    child,
    lastAck: startVersion,
    ready: Promise.resolve(),
    closed: Promise.resolve(),
    stderr: '',
    acked(count) {
      const version = startVersion + count;
      if (run.lastAck >= version || child.exitCode !== null || child.signalCode !== null) {
        return Promise.resolve();
      }
      return new Promise((resolve) => waiters.push({ version, resolve }));
    },
  };
  let buffered = '';
  run.ready = new Promise((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ready ')) {
          assert.equal(Number(line.slice(6)), startVersion, 'child opened an unexpected version');
          resolve();
        } else if (line !== '') {
          const k = Number(line);
          assert.equal(k, run.lastAck + 1, 'child skipped a version');
          run.lastAck = k;
          for (const w of waiters.splice(0)) {
            if (k >= w.version) w.resolve();
            else waiters.push(w);
          }
        }
      }
    });
  });
  child.stderr.on('data', (chunk: Buffer) => {
    run.stderr += chunk.toString('utf8');
  });
  // 'close' fires after the process exited AND its stdio is drained: every ack has been read.
  run.closed = new Promise((resolve) =>
    child.once('close', () => {
      for (const w of waiters.splice(0)) w.resolve();
      resolve();
    }),
  );
  return run;
}

let dir: string;
const children = new Set<ChildProcess>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiphub-kill-'));
});
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('trusted_devices.json under SIGKILL', () => {
  it(
    `is always the previous or the next version (${KILLS} kills)`,
    { timeout: 600_000 },
    async () => {
      const path = join(dir, 'trusted_devices.json');
      const initial = await TrustStore.open(path, { clock });
      await initial.add({
        ski: MARKER_SKI,
        brand: 'Marker',
        model: 'Version',
        device_type: 'Test',
      });

      let version = 0;
      let kills = 0;
      let progressed = 0;
      let killedStarting = 0;
      while (kills < KILLS) {
        const run = startChild(path, version);
        children.add(run.child);
        try {
          if (Math.random() < 0.1) {
            // Sometimes kill while the child is still starting up.
            killedStarting += 1;
          } else {
            // After 1-6 acknowledged versions: the child writes without pause, so the next
            // version is in flight when the signal lands.
            await run.acked(1 + Math.floor(Math.random() * 6));
          }
          run.child.kill('SIGKILL');
          await run.closed;
        } finally {
          if (run.child.exitCode === null && run.child.signalCode === null)
            run.child.kill('SIGKILL');
          children.delete(run.child);
        }
        assert.equal(run.child.signalCode, 'SIGKILL', `child ended on its own: ${run.stderr}`);
        kills += 1;

        const text = await readFile(path, 'utf8');
        assert.notEqual(text, '', 'the file is empty');
        assert.ok(text.endsWith('}\n'), `the file is cut off: ${JSON.stringify(text.slice(-40))}`);
        const store = await TrustStore.open(path, { clock });
        const onDisk = store.get(MARKER_SKI)?.connection_count;
        assert.ok(
          onDisk === run.lastAck || onDisk === run.lastAck + 1,
          `version on disk ${onDisk}, last reported ${run.lastAck}`,
        );
        assert.deepEqual(
          store
            .list()
            .map((d) => d.ski)
            .filter((ski) => ski !== MARKER_SKI),
          expectedDevices(onDisk),
          `device set of version ${onDisk}`,
        );
        assert.equal(store.serialize(), text, 'the file is not in canonical form');
        if (onDisk > version) progressed += 1;
        version = onDisk;
      }

      assert.equal(kills, KILLS);
      // The loop must really have been interrupting writes, not idle children: every run that
      // was not killed during start-up acknowledged at least one new version.
      assert.ok(
        progressed >= kills - killedStarting,
        `only ${progressed} of ${kills} runs changed the file`,
      );
      // Temporary files of killed writers are cleaned up by the next open.
      await TrustStore.open(path, { clock });
      assert.deepEqual(
        (await readdir(dir)).filter((name) => name.endsWith('.tmp')),
        [],
      );
    },
  );
});
