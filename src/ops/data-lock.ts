/**
 * The lock of a data directory: `<directory of trusted_devices_file>/ship-hub.lock`, holding the
 * pid of the process that uses the directory. The daemon holds it from before it reads or creates
 * anything (identity, trust, counters) until it has stopped; the CLI holds it while it edits
 * trusted_devices.json without a daemon. Two daemons started at once on one config therefore
 * cannot both create an identity (the survivor would announce an SKI that is not the one on disk)
 * or overwrite each other's trust changes.
 *
 * Node has no flock(), so the lock is a pid file with exclusive creation: the file is written
 * complete under a temporary name and hard-linked into place (link() fails when the name exists,
 * and readers never see a half-written pid). A lock whose pid is not a live process (the holder
 * was killed, or the content is garbage) is stale and taken over; the takeover renames the stale
 * file aside first, which only one of several racing processes can do, and puts the file back
 * if what it moved turns out to be a live holder's.
 *
 * Limits: a stale lock whose pid was reused by an unrelated live process blocks start-up (the
 * message says to remove the file then); the lock protects one machine, not a directory shared
 * over the network.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../ship/errors.js';
import { isProcessAlive } from '../util/atomic-file.js';
import { errnoCode } from '../util/errno.js';

export const LOCK_FILE_NAME = 'ship-hub.lock';

/** Takeover rounds before giving up (each round is one create attempt; no waiting in between). */
const MAX_ATTEMPTS = 5;

/** Lock paths this process holds: a second holder in the same process is refused too. */
const heldHere = new Set<string>();

/** The lock file of a config: next to trusted_devices.json (the data directory). */
export function dataLockPath(config: { readonly trusted_devices_file: string }): string {
  return join(dirname(resolve(config.trusted_devices_file)), LOCK_FILE_NAME);
}

/** What is at a lock path now. */
export type LockState =
  | { readonly state: 'free' }
  | { readonly state: 'held'; readonly pid: number }
  /** No live holder: the pid is dead (pid given) or the file does not hold a pid. */
  | { readonly state: 'stale'; readonly pid?: number };

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The pid in a lock file's text; undefined for anything but one positive decimal number. */
function parsePid(text: string): number | undefined {
  const match = /^\s*(\d{1,10})\s*$/.exec(text);
  const pid = match?.[1] === undefined ? NaN : Number(match[1]);
  return Number.isSafeInteger(pid) && pid > 0 && pid < 2 ** 31 ? pid : undefined;
}

/** Reads a lock file (never echoes its content: it may be anything a person put there). */
async function stateOfFile(path: string, lockPath: string): Promise<LockState> {
  let text: string;
  try {
    // A pid is a few bytes; a huge file is garbage, and reading it all is pointless.
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(64);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      text = buffer.subarray(0, bytesRead).toString('latin1');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return { state: 'free' };
    throw new ConfigError(
      'SHIPHUB_ERR_STORAGE',
      `${lockPath}: cannot read the lock file: ${errnoCode(error) === 'EISDIR' ? 'it is a directory' : errorText(error)}`,
      { cause: error, hint: 'check the permissions of the data directory' },
    );
  }
  const pid = parsePid(text);
  if (pid === undefined) return { state: 'stale' };
  if (pid === process.pid) {
    // Our own pid: held by us, or left by an earlier process that had the same pid (a container
    // restarts with the same pid), which is stale.
    return heldHere.has(lockPath) ? { state: 'held', pid } : { state: 'stale', pid };
  }
  return isProcessAlive(pid) ? { state: 'held', pid } : { state: 'stale', pid };
}

/** The state of the lock at `path` (free, held by a live pid, or stale). */
export function inspectLock(path: string): Promise<LockState> {
  const lockPath = resolve(path);
  return stateOfFile(lockPath, lockPath);
}

/** A lock held by a live process (`SHIPHUB_ERR_LOCKED`); names the file and the holder. */
export class LockHeldError extends ConfigError {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(
      'SHIPHUB_ERR_LOCKED',
      `${path} is held by process ${pid}: another ship-hub (daemon or CLI) is using this data ` +
        `directory. Stop it first; if process ${pid} is not ship-hub, remove ${path}`,
      { hint: `find it with: ps -p ${pid} -o pid,args` },
    );
  }
}

function lockHeldError(path: string, pid: number): LockHeldError {
  return new LockHeldError(path, pid);
}

/** A held lock; {@link DataLock.release} removes the file if it is still ours. */
export class DataLock {
  #released = false;

  constructor(readonly path: string) {}

  /** Removes the lock file (only if it still holds our pid); idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const state = await stateOfFile(this.path, this.path).catch(() => undefined);
    heldHere.delete(this.path);
    if (state?.state === 'held' && state.pid === process.pid) {
      await unlink(this.path).catch(() => undefined);
    }
  }
}

/** Puts a file holding our pid at `path`, unless a file is there (EEXIST). */
async function createExclusive(path: string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, path);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
      // No hard links on this file system: exclusive create (a reader may briefly see it empty,
      // which counts as stale; acceptable where the alternative is no lock at all).
      const direct = await open(path, 'wx', 0o644);
      try {
        await direct.writeFile(`${process.pid}\n`);
        await direct.sync();
      } finally {
        await direct.close();
      }
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** Moves a stale lock out of the way; throws if what was moved is a live holder's lock. */
async function takeOver(path: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return; // someone else moved it: just retry
    throw error;
  }
  const moved = await stateOfFile(aside, path);
  if (moved.state === 'held' && moved.pid !== process.pid) {
    // Between our look and our rename another starter took over and created a fresh lock: put
    // it back (link fails if yet another one exists by now; either way we are not the holder).
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    throw lockHeldError(path, moved.pid);
  }
  await unlink(aside).catch(() => undefined);
}

/**
 * Takes the lock at `path` (its directory is created), taking over a stale one.
 *
 * @throws ConfigError `SHIPHUB_ERR_LOCKED` naming the file and the holder's pid when a live
 *   process holds it; `SHIPHUB_ERR_STORAGE` when the file cannot be created or read.
 */
export async function acquireDataLock(path: string): Promise<DataLock> {
  const lockPath = resolve(path);
  try {
    await mkdir(dirname(lockPath), { recursive: true });
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        await createExclusive(lockPath);
        heldHere.add(lockPath);
        return new DataLock(lockPath);
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw error;
      }
      const state = await stateOfFile(lockPath, lockPath);
      if (state.state === 'held') throw lockHeldError(lockPath, state.pid);
      if (state.state === 'stale') await takeOver(lockPath);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      'SHIPHUB_ERR_STORAGE',
      `${lockPath}: cannot create the lock file: ${errorText(error)}`,
      { cause: error, hint: 'check that the service user may write the data directory' },
    );
  }
  throw new ConfigError(
    'SHIPHUB_ERR_LOCKED',
    `${lockPath}: could not take over the stale lock file in ${MAX_ATTEMPTS} attempts (other ` +
      'processes are racing for it); start again',
  );
}
