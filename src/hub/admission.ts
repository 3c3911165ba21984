/**
 * Admission before any TLS work: new TCP connections per remote address per minute. The table
 * is bounded without resetting anybody's limit (see `bound`).
 */
export const DEFAULT_PER_ADDRESS_PER_MINUTE = 120;
export const DEFAULT_MAX_RATE_LIMITED_ADDRESSES = 4_096;
const RATE_WINDOW_MS = 60_000;

export class AddressRateLimiter {
  /** Connection times per remote address in the last minute; Map order = least recently seen first. */
  readonly #recent = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number = DEFAULT_PER_ADDRESS_PER_MINUTE,
    private readonly maxAddresses: number = DEFAULT_MAX_RATE_LIMITED_ADDRESSES,
  ) {}

  /** Records a connection at `nowMs`; the refusal reason when the address is over its limit. */
  admit(remoteAddress: string, nowMs: number): string | undefined {
    const recent = (this.#recent.get(remoteAddress) ?? []).filter(
      (t) => nowMs - t < RATE_WINDOW_MS,
    );
    // Delete and set again: Map order stays least recently seen first.
    this.#recent.delete(remoteAddress);
    if (recent.length >= this.perMinute) {
      this.#recent.set(remoteAddress, recent);
      return `more than ${this.perMinute} connections per minute from ${remoteAddress}`;
    }
    recent.push(nowMs);
    this.#recent.set(remoteAddress, recent);
    this.bound();
    return undefined;
  }

  /** How many remote addresses are remembered (bounded). */
  get size(): number {
    return this.#recent.size;
  }

  /**
   * The table is in order of last connection, so the addresses forgotten first are those silent
   * the longest (after a minute they carry no information anyway). Only an attacker with more
   * fresh addresses than the bound can push out a fresh record, and then only the least recent.
   */
  private bound(): void {
    for (const address of this.#recent.keys()) {
      if (this.#recent.size <= this.maxAddresses) return;
      this.#recent.delete(address);
    }
  }
}
