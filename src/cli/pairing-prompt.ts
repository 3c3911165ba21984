/**
 * The terminal pairing question (the seed's "Do you want to trust this device? (yes/no)"), safe
 * against answers that were not meant for it:
 *
 * - Input typed while no question is on screen is discarded, never kept for the next one: a
 *   "yes" typed (or pasted) earlier must not approve whichever device asks next.
 * - An answer applies only to the request shown; one question at a time, the others queued.
 * - When the request on screen is decided elsewhere (CLI, admin API, expiry) or the device left,
 *   the question is withdrawn with a line saying so, and the next one is shown.
 *
 * Readline is asynchronous, so the prompt never blocks the event loop.
 */
import { createInterface, type Interface } from 'node:readline';
import type { PendingPairing } from '../hub/hub.js';
import type { PairingQuestions, PairingTarget } from '../ops/daemon.js';
import { formatPairingPrompt, parsePairingAnswer } from '../ops/operator-log.js';
import type { Ski } from '../ship/ski.js';

/** What the prompt acts on: the daemon's pairing requests. */
export type PairingPromptTarget = Pick<PairingTarget, 'isPending' | 'approve' | 'deny'>;

export interface PairingPromptOptions {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  readonly target: PairingPromptTarget;
  /** The question for one request, ending where the answer is typed. */
  readonly format: (request: PendingPairing) => string;
}

/** The seed's question on a terminal, for the daemon's pairing requests. */
export function terminalPairingPrompt(
  target: PairingTarget,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout,
): PairingPrompt {
  return new PairingPrompt({
    input,
    output,
    target,
    format: (request) => formatPairingPrompt({ ski: request.ski, ...target.label(request) }),
  });
}

export class PairingPrompt implements PairingQuestions {
  private readonly lines: Interface;
  private readonly queue: PendingPairing[] = [];
  private current: PendingPairing | undefined;
  private closed = false;
  /** Lines discarded because no question was on screen (diagnostics and tests). */
  ignoredLines = 0;

  constructor(private readonly options: PairingPromptOptions) {
    this.lines = createInterface({ input: options.input, terminal: false });
    this.lines.on('line', (line) => this.onLine(line));
    this.lines.on('close', () => {
      this.closed = true;
    });
  }

  /** The SKI whose question is on screen, if any. */
  get showing(): Ski | undefined {
    return this.current?.ski;
  }

  /** Queues a question for `request`; a repeated request of the same SKI replaces the queued one. */
  ask(request: PendingPairing): void {
    if (this.closed) return;
    if (this.current?.ski === request.ski) {
      this.current = request;
      return;
    }
    const queued = this.queue.findIndex((r) => r.ski === request.ski);
    if (queued >= 0) this.queue[queued] = request;
    else this.queue.push(request);
    this.showNext();
  }

  /**
   * The request of `ski` ended without this prompt (decided elsewhere, expired, device gone):
   * dropped from the queue, and withdrawn with `why` when it is on screen.
   */
  withdraw(ski: Ski, why: string): void {
    const queued = this.queue.findIndex((r) => r.ski === ski);
    if (queued >= 0) this.queue.splice(queued, 1);
    if (this.current?.ski !== ski) return;
    this.current = undefined;
    this.options.output.write(`\n   (${why}: question withdrawn)\n`);
    this.showNext();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.current = undefined;
    this.lines.close();
  }

  private onLine(line: string): void {
    const request = this.current;
    if (request === undefined) {
      // Typed before any question: never an answer to a question that comes later.
      this.ignoredLines++;
      if (line.trim() !== '') {
        this.options.output.write('   (ignored: no pairing question is open)\n');
      }
      return;
    }
    const answer = parsePairingAnswer(line);
    if (answer === undefined) {
      this.options.output.write(this.options.format(request));
      return;
    }
    this.current = undefined;
    if (this.options.target.isPending(request.ski)) {
      if (answer) {
        // Written to the trust file before the hub acts; if the disk refuses, nothing changes.
        this.options.target.approve(request.ski).catch((err: unknown) => {
          this.options.output.write(
            `could not save the approval (${err instanceof Error ? err.message : String(err)}); ` +
              'the request stays pending\n',
          );
        });
      } else {
        this.options.target.deny(request.ski);
      }
    }
    this.showNext();
  }

  private showNext(): void {
    while (this.current === undefined && !this.closed) {
      const next = this.queue.shift();
      if (next === undefined) return;
      if (!this.options.target.isPending(next.ski)) continue;
      this.current = next;
      this.options.output.write(this.options.format(next));
    }
  }
}
