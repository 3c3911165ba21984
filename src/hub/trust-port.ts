/**
 * Who is trusted: the hub's one source of truth (house style: ports and adapters). The hub keeps
 * no trust flag of its own; it asks this store and changes it. The file store of the daemon
 * (`TrustStore` in src/trust, `trusted_devices.json`) implements this port as it is; a library
 * user who passes nothing gets `MemoryTrustStore` (no persistence).
 *
 * Contract, the same for every implementation:
 * - reads (`has`, `get`, `list`) are synchronous and already include a change whose write is
 *   still running, so the hub decides on the latest state;
 * - a change resolves once it is durable and rejects when it cannot be made so, and then the
 *   view is as before the change (nothing is trusted that a restart would forget).
 */
import { parseSki, toSki, type Ski } from '../ship/ski.js';

/** What the hub needs to know of one trusted device (fields as in trusted_devices.json). */
export interface TrustEntry {
  readonly ski: Ski;
  /** SHA-256 (hex) of the public key the device was paired with; pinned at its first connection. */
  readonly public_key_sha256?: string;
  /** Where to dial it when mDNS does not show it ("host:port"; `trust add SKI --address`). */
  readonly address?: string;
}

/** What is recorded when a device becomes trusted (known from mDNS, the request or a person). */
export interface TrustedDeviceDescription {
  readonly ski: string;
  readonly brand?: string;
  readonly model?: string;
  readonly device_type?: string;
  /** A static address ("host:port"); undefined leaves what the store has. */
  readonly address?: string;
}

export interface HubTrustStore {
  /** True if the SKI is trusted (any spelling of an SKI; false for anything else). */
  has(ski: string): boolean;
  /** The trusted device with this SKI, or undefined. */
  get(ski: string): TrustEntry | undefined;
  /** Every trusted device. */
  list(): readonly TrustEntry[];
  /** Trusts a device (or updates its description); resolves when durable. */
  add(device: TrustedDeviceDescription): Promise<unknown>;
  /** Removes trust; resolves to false if the SKI was not trusted. */
  remove(ski: string): Promise<boolean>;
  /** A trusted device reached data exchange (last connection, count). */
  recordConnection(ski: string): Promise<unknown>;
  /** Pins the public key of a trusted device (SHA-256, hex). */
  pinKey(ski: string, keySha256: string): Promise<unknown>;
}

/** A trust store in memory: for library users who keep trust themselves, and for tests. */
export class MemoryTrustStore implements HubTrustStore {
  readonly #entries = new Map<Ski, TrustEntry>();

  constructor(initial: Iterable<{ ski: string; keySha256?: string }> = []) {
    for (const { ski, keySha256 } of initial) {
      const normalised = toSki(ski);
      this.#entries.set(normalised, {
        ski: normalised,
        ...(keySha256 !== undefined ? { public_key_sha256: keySha256 } : {}),
      });
    }
  }

  has(ski: string): boolean {
    return this.get(ski) !== undefined;
  }

  get(ski: string): TrustEntry | undefined {
    const normalised = parseSki(ski);
    return normalised === undefined ? undefined : this.#entries.get(normalised);
  }

  list(): readonly TrustEntry[] {
    return [...this.#entries.values()];
  }

  add(device: TrustedDeviceDescription): Promise<TrustEntry> {
    const ski = toSki(device.ski);
    const existing = this.#entries.get(ski) ?? { ski };
    const entry =
      device.address === undefined ? existing : { ...existing, address: device.address };
    this.#entries.set(ski, entry);
    return Promise.resolve(entry);
  }

  remove(ski: string): Promise<boolean> {
    const normalised = parseSki(ski);
    return Promise.resolve(normalised !== undefined && this.#entries.delete(normalised));
  }

  recordConnection(_ski: string): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  pinKey(ski: string, keySha256: string): Promise<TrustEntry | undefined> {
    const existing = this.get(ski);
    if (existing === undefined) return Promise.resolve(undefined);
    const pinned = { ...existing, public_key_sha256: keySha256 };
    this.#entries.set(existing.ski, pinned);
    return Promise.resolve(pinned);
  }
}
