/**
 * Crash safety of trusted_devices.json: a child process changes the store in a tight loop and is
 * SIGKILLed at random moments, at least 200 times. After every kill the file must parse, pass
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
const MIN_KILLS = 200;
const MAX_KILLS = 220;
/** Upper bound of the whole loop; the loop normally ends by count well before. */
const DEADLINE_MS = 55_000;

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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Run {
  child: ChildProcess;
  /** Highest version the child reported on disk. */
  lastAck: number;
  ready: Promise<void>;
  closed: Promise<void>;
  stderr: string;
}

function startChild(path: string, startVersion: number): Run {
  const child = spawn(process.execPath, [CHILD, path], { stdio: ['pipe', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    lastAck: startVersion,
    ready: Promise.resolve(),
    closed: Promise.resolve(),
    stderr: '',
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
        }
      }
    });
  });
  child.stderr.on('data', (chunk: Buffer) => {
    run.stderr += chunk.toString('utf8');
  });
  // 'close' fires after the process exited AND its stdio is drained: every ack has been read.
  run.closed = new Promise((resolve) => child.once('close', () => resolve()));
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
    `is always the previous or the next version (${MIN_KILLS}+ kills)`,
    { timeout: 90_000 },
    async () => {
      const path = join(dir, 'trusted_devices.json');
      const initial = await TrustStore.open(path, { clock });
      await initial.add({
        ski: MARKER_SKI,
        brand: 'Marker',
        model: 'Version',
        device_type: 'Test',
      });

      const started = Date.now();
      let version = 0;
      let kills = 0;
      let progressed = 0;
      while (kills < MAX_KILLS && Date.now() - started < DEADLINE_MS) {
        const run = startChild(path, version);
        children.add(run.child);
        try {
          if (Math.random() < 0.1) {
            // Sometimes kill while the child is still starting up.
            await sleep(Math.random() * 30);
          } else {
            await Promise.race([run.ready, run.closed]);
            await sleep(Math.random() * 20);
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

      assert.ok(kills >= MIN_KILLS, `only ${kills} kills within ${DEADLINE_MS} ms`);
      // The loop must really have been interrupting writes, not idle children.
      assert.ok(progressed > kills / 2, `only ${progressed} of ${kills} runs changed the file`);
      // Temporary files of killed writers are cleaned up by the next open.
      await TrustStore.open(path, { clock });
      assert.deepEqual(
        (await readdir(dir)).filter((name) => name.endsWith('.tmp')),
        [],
      );
    },
  );
});
