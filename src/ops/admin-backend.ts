/**
 * The daemon's side of the admin API (src/ops/admin-api.ts): what each endpoint reads from and
 * does to the hub and the trust store, in the API's vocabulary (snake_case, ISO timestamps).
 */
import type { Logger } from 'pino';
import type { Hub, PendingPairing } from '../hub/hub.js';
import type { SpineDeviceSummary } from '../hub/spine-summary.js';
import type { Ski } from '../ship/ski.js';
import type { TrustStore } from '../trust/trust-store.js';
import type { Clock } from '../util/clock.js';
import { ShipHubError } from '../util/errors.js';
import { parseStaticAddress } from '../util/host-port.js';
import type { AdminBackend, AdminHealth } from './admin-api.js';

/** Brand, model and type of a device, as the daemon knows them. */
export interface DeviceLabel {
  brand: string;
  model: string;
  device_type: string;
}

export interface AdminBackendDeps {
  readonly hub: Hub;
  readonly trust: TrustStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly shipId: string;
  readonly ski: Ski;
  /** Monotonic start time of the daemon (uptime). */
  readonly startedAt: number;
  isReady(): boolean;
  status(): AdminHealth['status'];
  /** The latest failed state-file write, until a write succeeds again. */
  storageError(): string | undefined;
  describe(ski: Ski, pending?: PendingPairing): DeviceLabel;
  /** A person gave brand, model or type of a device. */
  remember(ski: Ski, label: DeviceLabel): void;
  /** Approves a pending request, trust written first (throws SHIPHUB_ERR_STORAGE if it cannot). */
  approvePending(pending: PendingPairing): Promise<void>;
}

export function createAdminBackend(deps: AdminBackendDeps): AdminBackend {
  const { hub, trust, clock, logger } = deps;
  return {
    health: () => ({
      status: deps.status(),
      ...(deps.storageError() !== undefined ? { storage_error: deps.storageError() } : {}),
      uptime_s: Math.round((clock.now() - deps.startedAt) / 1000),
      connections: hub.openConnectionCount,
      ski: deps.ski,
      ship_id: deps.shipId,
      port: hub.listeningPort,
      pending_pairings: hub.pendingPairings().length,
      trusted_devices: trust.size,
    }),
    ready: () => deps.isReady(),
    listPending: () =>
      hub.pendingPairings().map((p) => ({
        ski: p.ski,
        ...deps.describe(p.ski, p),
        address: p.remoteAddress,
        requested_at: p.since.toISOString(),
        expires_at: p.expiresAt.toISOString(),
      })),
    approve: async (ski) => {
      const pending = hub.pendingPairings().find((p) => p.ski === ski);
      if (pending === undefined) return false;
      // Written before the hub is told: an approval that cannot be saved is an error and the
      // request stays pending; an acknowledged one survives a crash.
      await deps.approvePending(pending);
      return true;
    },
    deny: (ski) => hub.deny(ski),
    listDenied: () =>
      hub.deniedPairings().map((d) => ({
        ski: d.ski,
        denied_at: d.deniedAt.toISOString(),
        until: d.until.toISOString(),
        refused_since: d.refusedSince,
      })),
    forgetDenial: (ski) => hub.forgetDenial(ski),
    pairingWindow: async (seconds) => {
      if (seconds === 0) {
        await hub.closeAutoAcceptWindow();
        return { until: undefined };
      }
      await hub.openAutoAcceptWindow(seconds * 1000);
      const until = new Date(clock.wallNow().getTime() + seconds * 1000).toISOString();
      logger.warn(
        { event: 'auto_accept_open', seconds, by: 'operator' },
        `⚠️  AUTO-ACCEPT opened by the operator for ${seconds} s: any device may pair now`,
      );
      return { until };
    },
    // Each trusted device with whether it is in data exchange now, and since when.
    listTrusted: () => {
      const wallNow = clock.wallNow().getTime();
      // Wall time (ms) each device in data exchange opened its connection.
      const openedAt = new Map<string, number>();
      for (const c of hub.connections()) {
        if (c.state !== 'SME_STATE_COMPLETE') continue;
        openedAt.set(c.ski, wallNow - c.connectedForMs);
      }
      return trust.list().map((d) => {
        // The connection opened before its handshake (a pairing can take minutes); its data
        // exchange began when the trust store recorded it (last_connection), if that is later.
        const opened = openedAt.get(d.ski);
        const recorded = Date.parse(d.last_connection);
        const connectedSince =
          opened === undefined
            ? undefined
            : new Date(
                Number.isFinite(recorded) ? Math.max(opened, recorded) : opened,
              ).toISOString();
        return {
          ...d,
          connected: connectedSince !== undefined,
          ...(connectedSince !== undefined ? { connected_since: connectedSince } : {}),
        };
      });
    },
    addTrusted: async (ski, info) => {
      const address = info?.address;
      if (address !== undefined) {
        const parsed = parseStaticAddress(address);
        if (typeof parsed === 'string') {
          throw new ShipHubError('SHIPHUB_ERR_BAD_REQUEST', `"address": ${parsed}`);
        }
      }
      const current = deps.describe(ski);
      const merged = {
        brand: info?.brand ?? current.brand,
        model: info?.model ?? current.model,
        device_type: info?.device_type ?? current.device_type,
      };
      deps.remember(ski, merged);
      // The hub writes the file first; if that fails nothing changed and this throws.
      await hub.registerRemoteSki(ski, {
        brand: merged.brand,
        model: merged.model,
        deviceType: merged.device_type,
        ...(address !== undefined ? { address } : {}),
      });
      const device = trust.get(ski);
      if (device === undefined) {
        throw new ShipHubError(
          'SHIPHUB_ERR_INTERNAL',
          `${ski} was trusted but is not in the store`,
        );
      }
      return device;
    },
    // The file first (inside the hub): if the removal cannot be saved, the device stays
    // trusted everywhere (an error, not a removal a restart would undo).
    removeTrusted: (ski) => hub.unregisterRemoteSki(ski),
    listConnections: () =>
      hub.connections().map((c) => ({
        ski: c.ski,
        direction: c.direction,
        state: c.state,
        address: c.remoteAddress,
        ship_id: c.shipId,
        connected_for_s: Math.round(c.connectedForMs / 1000),
      })),
    listDiscovered: () =>
      hub
        .services()
        .filter((s) => !s.own)
        .map((s) => ({
          ski: s.ski,
          ...(s.record.brand !== undefined ? { brand: s.record.brand } : {}),
          ...(s.record.model !== undefined ? { model: s.record.model } : {}),
          ...(s.record.type !== undefined ? { device_type: s.record.type } : {}),
          ship_id: s.record.shipId,
          ...(s.addresses[0] !== undefined ? { address: s.addresses[0].address } : {}),
          port: s.port,
          register: s.record.register,
          trusted: trust.has(s.ski),
        })),
    listDevices: () =>
      [...(hub.spine?.summaries() ?? new Map<Ski, SpineDeviceSummary>())]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([ski, spine]) => ({ ski, spine })),
    device: (ski) => {
      const spine = hub.spine?.summary(ski);
      return spine === undefined ? undefined : { ski, spine };
    },
  };
}
