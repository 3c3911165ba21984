/**
 * Reading the JSON files the trust and state stores keep (trusted_devices.json, hub_state.json):
 * a file that is missing is no store yet; one that is unreadable, empty, not JSON, holds a key
 * twice or is not an object is refused with a ConfigError naming the file and the place, and is
 * never overwritten (the store does not open, so it cannot write).
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../ship/errors.js';
import { errnoCode } from '../util/errno.js';
import { parseCheckedJson, stripBom } from '../util/json-check.js';
import { describeValue, isJsonObject } from '../util/json-value.js';

/** Like {@link describeValue}, but an array is named, not printed (a whole store can be one). */
export function describe(value: unknown): string {
  return Array.isArray(value) ? 'an array' : describeValue(value);
}

/** Keys shown in messages: SKIs and field names; anything else is not echoed. */
const SAFE_KEY = /^[A-Za-z0-9 _:.-]{1,64}$/;

/**
 * Reads and parses a JSON store file. Returns undefined when it does not exist. Anything else that
 * is wrong throws a ConfigError naming the file (and line/column for bad JSON).
 *
 * Shared by the trust and state stores.
 */
export async function readJsonStoreFile(
  path: string,
  what: string,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return undefined;
    const reason =
      code === 'EISDIR'
        ? 'it is a directory, not a file'
        : error instanceof Error
          ? error.message
          : String(error);
    throw new ConfigError('SHIPHUB_ERR_STORAGE', `${path}: cannot read ${what}: ${reason}`, {
      cause: error,
      hint: 'check the file permissions of the data directory',
    });
  }
  const keep = 'the file was left untouched; fix or remove it, then start again';
  if (stripBom(text).trim() === '') {
    throw new ConfigError('SHIPHUB_ERR_STORE_INVALID', `${path}: ${what} is empty (${keep})`, {
      hint: 'an empty file is not valid JSON; write "{}" into it for an empty store',
    });
  }
  // Checked by our own walker first: positions right on every Node version, duplicate keys
  // found, and no message ever quotes the text (the path may be a symlink to another file).
  const parsed = parseCheckedJson(text);
  if (!parsed.ok) {
    const { problem } = parsed;
    if (problem.kind === 'duplicate-key') {
      const key =
        problem.key !== undefined && SAFE_KEY.test(problem.key) ? ` "${problem.key}"` : '';
      throw new ConfigError(
        'SHIPHUB_ERR_STORE_INVALID',
        `${path}: ${what} has the key${key} twice: line ${problem.line} repeats the key of line ` +
          `${problem.firstLine ?? '?'} (JSON would keep only the last one and silently drop the ` +
          `other; merge or remove one) (${keep})`,
      );
    }
    throw new ConfigError(
      'SHIPHUB_ERR_STORE_INVALID',
      `${path}: ${what} is not valid JSON at line ${problem.line}, column ${problem.column}: ` +
        `${problem.message} (${keep})`,
    );
  }
  const value = parsed.value;
  if (!isJsonObject(value)) {
    throw new ConfigError(
      'SHIPHUB_ERR_STORE_INVALID',
      `${path}: ${what} must be a JSON object, got ${describe(value)} (${keep})`,
    );
  }
  return value;
}
