/**
 * The admin API's credential when no admin_token is configured: a random token in a file only the
 * service user (and root) can read, created at the daemon's first start and read by the CLI.
 * Loopback alone is no credential: any local process, and a web page in a local browser, can
 * reach 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, lstat, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError, ShipHubError } from '../ship/errors.js';
import { errnoCode } from '../util/errno.js';

const MIN_TOKEN_LENGTH = 16;

/**
 * The token in `path`, creating the file (mode 0600, exclusive create, fsync'ed) when it does not
 * exist. Refuses, naming the file, a token file that is not a regular file (a symlink could point
 * anywhere), that group or others may read or write, or that holds fewer than 16 characters.
 */
export async function loadOrCreateAdminToken(path: string): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const token = await checkAdminTokenFile(path);
    if (token !== undefined) return token;
    // Created now, or by a concurrent start (EEXIST): either way, read and check it.
    await createTokenFile(path);
  }
  throw new ConfigError('SHIPHUB_ERR_CONFIG', `${path} (admin_token_file): could not be created`);
}

/**
 * The token in `path` after the checks of {@link loadOrCreateAdminToken}, or undefined when the
 * file does not exist (the daemon creates it at its first start). Creates nothing, so
 * `ship-hub config check` uses it too.
 */
export async function checkAdminTokenFile(path: string): Promise<string | undefined> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw unreadable(path, error);
    return undefined;
  }
  if (!info.isFile()) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `${path} (admin_token_file): expected a regular file holding the admin token, ` +
        `found ${info.isSymbolicLink() ? 'a symbolic link' : info.isDirectory() ? 'a directory' : 'something else'}`,
    );
  }
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `${path} (admin_token_file): readable or writable by group or others (mode ` +
        `${(info.mode & 0o777).toString(8)}); it grants control over pairing: ` +
        `chmod 600 ${path}`,
    );
  }
  let token: string;
  try {
    token = (await readFile(path, 'utf8')).trim();
  } catch (error) {
    throw unreadable(path, error);
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `${path} (admin_token_file): expected a token of at least ${MIN_TOKEN_LENGTH} characters; ` +
        'remove the file and a new one is created at the next start',
    );
  }
  return token;
}

/**
 * Creates the token file atomically and without ever replacing one: the token goes to a
 * temporary file (0600, fsync'ed) that is then hard-linked to `path`, which fails if `path`
 * exists. A kill at any moment leaves either no token file or a complete one, never an empty one.
 * Does nothing when the file appeared meanwhile (another start won).
 */
async function createTokenFile(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  let handle;
  try {
    handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${randomBytes(32).toString('base64url')}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, path);
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') throw unreadable(path, error);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

function unreadable(path: string, error: unknown): ConfigError {
  return new ConfigError(
    'SHIPHUB_ERR_CONFIG',
    `${path} (admin_token_file): ${errnoCode(error) ?? String(error)}`,
    { cause: error },
  );
}

/**
 * The token for the CLI, read synchronously from `path`: undefined when there is no file yet (no
 * daemon has started); an error that says what to do when the operator may not read it.
 */
export function readAdminTokenFile(path: string): string | undefined {
  try {
    const token = readFileSync(path, 'utf8').trim();
    return token === '' ? undefined : token;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return undefined;
    throw new ShipHubError(
      'SHIPHUB_ERR_UNAUTHORIZED',
      `cannot read the admin token ${path} (${code === 'EACCES' ? 'permission denied' : (code ?? String(error))})`,
      { hint: 'run ship-hub as the service user (sudo -u ship-hub ship-hub …) or as root' },
    );
  }
}
