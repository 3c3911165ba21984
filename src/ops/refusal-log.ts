/**
 * Aggregated logging of refused incoming connections. A host on the LAN can open hundreds of
 * TCP connections a second; one log line each (at error level, as before) filled the journal at
 * about 250 KiB/s and buried what the operator needs. Refusals are the hub working as intended,
 * so they are logged at warn: the first refusal from a source address is written at once, then
 * for each interval in which that source was refused again one line with the count.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { safeTerminalText } from '../util/terminal-text.js';

export const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** Sources tracked at once; beyond, refusals are summed under one "other addresses" line. */
export const MAX_REFUSAL_SOURCES = 256;
const OTHERS = 'other addresses';

export interface RefusalLogSink {
  warn(fields: Record<string, unknown>, message: string): void;
}

interface Source {
  /** Refusals since the last line written for this source. */
  count: number;
  lastReason: string;
  timer: TimerHandle;
}

export class RefusalLog {
  private readonly sources = new Map<string, Source>();

  constructor(
    private readonly log: RefusalLogSink,
    private readonly clock: Clock,
    private readonly intervalMs = REFUSAL_LOG_INTERVAL_MS,
  ) {}

  /** One refused connection from `address` (text as received: escaped here for the terminal). */
  record(address: string, reason: string): void {
    let key = address;
    if (!this.sources.has(key) && this.sources.size >= MAX_REFUSAL_SOURCES) key = OTHERS;
    const known = this.sources.get(key);
    if (known !== undefined) {
      known.count++;
      known.lastReason = reason;
      return;
    }
    if (key !== OTHERS) {
      this.log.warn(
        { event: 'connection_refused', remote_address: address, reason },
        `🚫 Refused a connection from ${safeTerminalText(address, 64)}: ${safeTerminalText(reason, 200)}`,
      );
    }
    this.sources.set(key, {
      count: key === OTHERS ? 1 : 0,
      lastReason: reason,
      timer: this.clock.setTimer('refusalLog', this.intervalMs, () => this.summarise(key)),
    });
  }

  /** Writes what is left and stops the timers (daemon stop). */
  close(): void {
    for (const key of [...this.sources.keys()]) {
      const source = this.sources.get(key);
      source?.timer.cancel();
      if (source !== undefined && source.count > 0) this.writeSummary(key, source);
    }
    this.sources.clear();
  }

  /** Sources with an open interval (bounded by MAX_REFUSAL_SOURCES + 1). */
  get trackedSources(): number {
    return this.sources.size;
  }

  private summarise(key: string): void {
    const source = this.sources.get(key);
    if (source === undefined) return;
    if (source.count === 0) {
      // Quiet for a whole interval: the next refusal is news again.
      this.sources.delete(key);
      return;
    }
    this.writeSummary(key, source);
    source.count = 0;
    source.timer = this.clock.setTimer('refusalLog', this.intervalMs, () => this.summarise(key));
  }

  private writeSummary(key: string, source: Source): void {
    const seconds = Math.round(this.intervalMs / 1000);
    this.log.warn(
      {
        event: 'connections_refused',
        remote_address: key,
        count: source.count,
        interval_s: seconds,
        last_reason: source.lastReason,
      },
      `🚫 Refused ${source.count} more connection${source.count === 1 ? '' : 's'} from ` +
        `${safeTerminalText(key, 64)} in the last ${seconds} s ` +
        `(last: ${safeTerminalText(source.lastReason, 200)})`,
    );
  }
}
