/**
 * Crash-safe file replacement, after matter.js `StorageBackendDisk`: the new content goes to a
 * temporary file in the same directory, is fsync'ed, renamed over the target (rename is atomic
 * within one file system on POSIX) and the directory is fsync'ed so the rename itself survives a
 * power cut. A reader therefore sees either the old or the new file, never a partial one.
 *
 * Writes to the same path are serialised through a per-path promise chain, so two concurrent
 * callers cannot interleave and the last call wins. It is the only write queue: the JSON stores
 * queue their writes here too ({@link withWriteQueue}).
 *
 * A target that is a symbolic link is followed: the file it points to is replaced (its temporary
 * file is created next to it, so the rename stays within one file system) and the link stays a
 * link. Renaming over the link itself would silently turn an operator's symlinked
 * trusted_devices.json into a regular file that the link's target no longer sees.
 *
 * {@link writeFileExclusive} creates a file that must not exist yet (the identity's key and
 * certificate): the complete content is linked into place, and link() fails if the name exists,
 * so two writers racing cannot replace each other's file.
 */
import { randomBytes } from 'node:crypto';
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { errnoCode } from './errno.js';

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /**
   * File mode of the result, applied exactly (not masked by the umask). Without it an existing
   * target keeps its mode and a new file gets the usual 0o666 minus the umask.
   */
  mode?: number;
}

/** Per-path tail of the write chain; entries are removed when their chain drains. */
const chains = new Map<string, Promise<void>>();
let tempCounter = 0;

const TEMP_SUFFIX = '.tmp';

function tempPrefix(target: string): string {
  return `.${basename(target)}.`;
}

/** Name of a temporary sibling: `.<name>.<pid>.<counter>.<random>.tmp`. */
function tempPathFor(target: string): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER;
  const unique = `${process.pid}.${tempCounter}.${randomBytes(4).toString('hex')}`;
  return join(dirname(target), `${tempPrefix(target)}${unique}${TEMP_SUFFIX}`);
}

/** fsync a directory so a rename in it is durable; platforms that cannot do it are tolerated. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Windows and some network file systems refuse to open or fsync directories.
    const code = errnoCode(error);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') {
      throw error;
    }
  } finally {
    await handle?.close();
  }
}

/** Symbolic links followed at most; more is a loop (the kernel's ELOOP limit is 40 too). */
const MAX_SYMLINKS = 40;

/**
 * The path a write must replace: `path` itself, or, when it is a symbolic link (also one that
 * points to a file not created yet), the file at the end of the chain of links.
 */
export async function resolveWriteTarget(path: string): Promise<string> {
  let current = resolve(path);
  for (let hops = 0; hops <= MAX_SYMLINKS; hops++) {
    let isLink: boolean;
    try {
      isLink = (await lstat(current)).isSymbolicLink();
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return current;
      throw error;
    }
    if (!isLink) return current;
    current = resolve(dirname(current), await readlink(current));
  }
  throw Object.assign(new Error(`${path}: too many levels of symbolic links`), { code: 'ELOOP' });
}

async function writeNow(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions,
): Promise<void> {
  const target = await resolveWriteTarget(path);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });

  let mode = options.mode;
  if (mode === undefined) {
    try {
      mode = (await stat(target)).mode & 0o7777;
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
  }

  const temp = tempPathFor(target);
  let renamed = false;
  try {
    // Created with the final mode (minus umask) and chmod'ed before any data is written, so a
    // private key is never readable by others, not even for a moment.
    const handle = await open(temp, 'wx', mode ?? 0o666);
    try {
      if (mode !== undefined) await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/**
 * Replaces the file at `path` with `data` atomically and durably: temporary file in the same
 * directory, write, fsync, rename, fsync of the directory. Parent directories are created.
 * Concurrent calls for the same path run one after the other in call order. On failure the
 * target is untouched and the temporary file is removed.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  return withWriteQueue(path, (write) => write(data, options));
}

/** The atomic write of one path, as {@link withWriteQueue} hands it to its task. */
export type QueuedWrite = (
  data: string | Uint8Array,
  options?: WriteFileAtomicOptions,
) => Promise<void>;

/**
 * Runs `task` in the write queue of `path`: after every write of that path queued before it, and
 * before any queued after it. The task gets the atomic write of `path` (the same as
 * {@link writeFileAtomic}, without queueing again). This is the one serialisation of file writes:
 * the JSON stores use it to take their snapshot only when their write's turn has come, so changes
 * made while an earlier write runs join the next one (src/trust/store-writer.ts).
 */
export function withWriteQueue<T>(
  path: string,
  task: (write: QueuedWrite) => Promise<T>,
): Promise<T> {
  const target = resolve(path);
  const previous = chains.get(target) ?? Promise.resolve();
  const run = previous.then(() => task((data, options = {}) => writeNow(target, data, options)));
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  chains.set(target, tail);
  void tail.then(() => {
    if (chains.get(target) === tail) chains.delete(target);
  });
  return run;
}

/**
 * Creates `path` with `data`, durably, only if nothing exists under that name: the content is
 * written and fsync'ed in a temporary file first, then hard-linked to `path` (link() never
 * replaces an existing name), so a concurrent writer's file is never overwritten and a reader
 * never sees a partial file. On file systems without hard links it falls back to an exclusive
 * create ('wx'), which still never replaces a file.
 *
 * @throws an error with code EEXIST if `path` exists (also as a dangling symbolic link).
 */
export async function writeFileExclusive(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const target = await resolveWriteTarget(path);
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const mode = options.mode ?? 0o666;
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      if (options.mode !== undefined) await handle.chmod(options.mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, target);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
        throw error;
      }
      // No hard links here (FAT, some FUSE file systems): 'wx' is exclusive too.
      const handle2 = await open(target, 'wx', mode);
      try {
        if (options.mode !== undefined) await handle2.chmod(options.mode);
        await handle2.writeFile(data);
        await handle2.sync();
      } finally {
        await handle2.close();
      }
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dir);
}

/** True if a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errnoCode(error) === 'EPERM';
  }
}

/**
 * Removes temporary files that {@link writeFileAtomic} left next to `path` when a process was
 * killed mid-write. Only files of processes that no longer exist are removed, so a live writer
 * is never disturbed. Returns the removed paths.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const target = resolve(path);
  const dir = dirname(target);
  const prefix = tempPrefix(target);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || isProcessAlive(pid)) continue;
    const full = join(dir, name);
    try {
      await unlink(full);
      removed.push(full);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
  }
  return removed;
}
