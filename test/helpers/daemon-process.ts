/**
 * `ship-hub` (build/src/cli/main.js) as a child process in its own directory, its NDJSON log
 * lines collected so a test can wait for one (never a sleep). The caller kills what is left in
 * `children` when its tests end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { collectJsonLines } from './ndjson.js';

export interface DaemonProcess {
  readonly child: ChildProcess;
  /** Its JSON log lines (stdout) so far. */
  readonly lines: Array<Record<string, unknown>>;
  /** Its stderr so far. */
  stderr(): string;
  readonly exited: Promise<number | null>;
  /**
   * Resolves with the `index`-th (from 0) log line matching `match`, logged already or later;
   * rejects, naming `what`, if the daemon exits first.
   */
  line(
    match: (line: Record<string, unknown>) => boolean,
    what: string,
    index?: number,
  ): Promise<Record<string, unknown>>;
}

/** Runs `main.js config.json` in `dir`; the child is added to `children` until it exits. */
export function startDaemonProcess(
  main: string,
  dir: string,
  children: Set<ChildProcess>,
): DaemonProcess {
  const child = spawn(process.execPath, [main, 'config.json'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  collectJsonLines(child.stdout, lines, () => {
    for (const w of [...waiters]) w();
  });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  // 'close', not 'exit': by then stdout and stderr are read to their end, so a test that awaits
  // `exited` sees every line and the whole stderr.
  const exited = new Promise<number | null>((res) =>
    child.once('close', (code) => {
      children.delete(child);
      res(code);
    }),
  );
  const line: DaemonProcess['line'] = (match, what, index = 0) =>
    new Promise((res, rej) => {
      const check = () => {
        const hit = lines.filter(match)[index];
        if (hit !== undefined) {
          waiters.delete(check);
          res(hit);
        }
      };
      waiters.add(check);
      check();
      void exited.then((code) => {
        if (!waiters.has(check)) return;
        waiters.delete(check);
        rej(new Error(`daemon exited (${code}) before ${what}; stderr: ${err}`));
      });
    });
  return { child, lines, stderr: () => err, exited, line };
}
