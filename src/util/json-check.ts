/**
 * A strict JSON checker for files people edit by hand (trusted_devices.json, hub_state.json,
 * config.json). `JSON.parse` is not enough there:
 *
 * - it keeps the last of two equal keys and silently drops the first, so a pasted duplicate entry
 *   loses a trusted device without a word;
 * - where it fails, Node 20 does not always say where (some messages have no position, so the
 *   error was reported at the end of the file), and its messages quote the text around the error,
 *   which for a symlink to another file (/etc/passwd) prints that file's content.
 *
 * So the text is walked once by this checker, which reports the first problem with its own line
 * and column and a message that describes the grammar, never the content. It uses an explicit
 * stack (no recursion), so deeply nested input cannot overflow the call stack.
 */

/** The first problem of a JSON text; line and column are 1-based (column in UTF-16 units). */
export interface JsonProblem {
  readonly kind: 'syntax' | 'duplicate-key';
  /** What is wrong, in words; never quotes the text. */
  readonly message: string;
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  /** For 'duplicate-key': the line of the first occurrence and the key itself. */
  readonly firstLine?: number;
  readonly key?: string;
}

/** Deeper nesting than this is refused (our files are two levels deep). */
const MAX_DEPTH = 512;

class Stop extends Error {
  constructor(
    readonly problem: Omit<JsonProblem, 'line' | 'column'>,
    readonly firstOffset?: number,
  ) {
    super(problem.message);
  }
}

/** Line and column (1-based) of an offset in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

type Frame = { kind: 'object'; keys: Map<string, number> } | { kind: 'array' };

/**
 * Checks that `text` is exactly one JSON value with no object holding the same key twice.
 * Returns the first problem, or undefined when `JSON.parse(text)` will succeed and lose nothing.
 */
export function checkJsonText(text: string): JsonProblem | undefined {
  const n = text.length;
  let i = 0;
  const stop = (message: string, at = i): never => {
    throw new Stop({ kind: 'syntax', message, offset: at });
  };
  const skipSpace = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };
  /** Reads a string literal at i (which is '"'); returns its decoded value. */
  const readString = (): string => {
    const start = i;
    i++;
    for (;;) {
      if (i >= n) stop('unterminated string (missing closing ")', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) stop('line break or control character inside a string (escape it)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!HEX4.test(text.slice(i + 2, i + 6))) stop('invalid \\u escape in a string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          stop('invalid escape in a string');
        }
        continue;
      }
      i++;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const stack: Frame[] = [];
  /** Reads `"key"` and `:` of an object member; notes duplicate keys. */
  const readKey = (frame: { keys: Map<string, number> }) => {
    skipSpace();
    if (i >= n) stop('unexpected end of the file (expected a property name)');
    if (text[i] !== '"') stop('expected a property name in double quotes');
    const at = i;
    const key = readString();
    const first = frame.keys.get(key);
    if (first !== undefined) {
      throw new Stop(
        { kind: 'duplicate-key', message: 'the same key appears twice', offset: at, key },
        first,
      );
    }
    frame.keys.set(key, at);
    skipSpace();
    if (text[i] !== ':') stop(i >= n ? 'unexpected end of the file' : "expected ':' after a key");
    i++;
  };

  try {
    let wantValue = true;
    for (;;) {
      skipSpace();
      if (wantValue) {
        if (i >= n) stop('unexpected end of the file (expected a value)');
        const c = text.charAt(i);
        if (c === '{' || c === '[') {
          if (stack.length >= MAX_DEPTH) stop(`nested deeper than ${MAX_DEPTH} levels`);
          i++;
          skipSpace();
          const close = c === '{' ? '}' : ']';
          if (text[i] === close) {
            i++;
            wantValue = false;
            continue;
          }
          if (c === '{') {
            const frame = { kind: 'object' as const, keys: new Map<string, number>() };
            stack.push(frame);
            readKey(frame);
          } else {
            stack.push({ kind: 'array' });
          }
          continue;
        }
        if (c === '"') {
          readString();
        } else if (c === '-' || (c >= '0' && c <= '9')) {
          NUMBER.lastIndex = i;
          const match = NUMBER.exec(text);
          if (match === null || /^[0-9.eE+-]$/.test(text[i + match[0].length] ?? '')) {
            stop('invalid number');
          }
          i += match === null ? 0 : match[0].length;
        } else if (text.startsWith('true', i)) {
          i += 4;
        } else if (text.startsWith('false', i)) {
          i += 5;
        } else if (text.startsWith('null', i)) {
          i += 4;
        } else {
          stop('unexpected character (expected a value)');
        }
        wantValue = false;
        continue;
      }
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (i < n) stop('unexpected text after the end of the JSON value');
        return undefined;
      }
      const c = text[i];
      if (c === ',') {
        i++;
        if (top.kind === 'object') readKey(top);
        wantValue = true;
      } else if (c === (top.kind === 'object' ? '}' : ']')) {
        i++;
        stack.pop();
      } else if (i >= n) {
        stop('unexpected end of the file (an object or array is not closed)');
      } else {
        stop(
          top.kind === 'object'
            ? "expected ',' or '}' after a property value"
            : "expected ',' or ']' after an array element",
        );
      }
    }
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    const where = lineAndColumn(text, error.problem.offset);
    return {
      ...error.problem,
      ...where,
      ...(error.firstOffset !== undefined
        ? { firstLine: lineAndColumn(text, error.firstOffset).line }
        : {}),
    };
  }
}

/** What {@link parseCheckedJson} returns. */
export type CheckedJson =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly problem: JsonProblem;
      /** For the two mistakes people make most in hand-edited JSON, what to do; else ''. */
      readonly hint: string;
    };

/**
 * Parses the text of a file people edit: a UTF-8 byte order mark is dropped, the text is checked
 * with {@link checkJsonText} first (positions right on every Node version, duplicate keys found,
 * nothing quoted), and only then handed to JSON.parse. The config loader and both JSON stores
 * read their files through this; each words the problem for its own file.
 */
export function parseCheckedJson(text: string): CheckedJson {
  const body = stripBom(text);
  const problem = checkJsonText(body);
  if (problem === undefined) return { ok: true, value: JSON.parse(body) as unknown };
  const next = body.slice(problem.offset, problem.offset + 2);
  const hint =
    next === '//' || next === '/*'
      ? 'comments are not allowed in JSON; remove them'
      : /,\s*$/.test(body.slice(0, problem.offset)) &&
          /^[}\]]/.test(body.slice(problem.offset).trimStart())
        ? 'trailing commas are not allowed in JSON'
        : '';
  return { ok: false, problem, hint };
}

/** The text without a leading UTF-8 byte order mark (editors on Windows write one). */
export function stripBom(text: string): string {
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}
