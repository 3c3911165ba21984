/**
 * The one composition root of a hub (house style §7): the real transport (TLS + WebSocket), mDNS
 * and the trust store are put together here and nowhere else. The daemon builds its hub through
 * this function, so a library user can set everything the daemon sets.
 */
import type { Logger } from 'pino';
import { createMdnsProvider, type MdnsProviderChoice } from '../mdns/index.js';
import type { MdnsProvider } from '../mdns/types.js';
import { createShipTlsContext } from '../transport/tls.js';
import type { NodeIdentity } from '../trust/identity.js';
import { systemClock, type Clock } from '../util/clock.js';
import { createLocalDevice } from '../spine/device/local.js';
import type { DeviceDescription as SpineDeviceDescription } from '../spine/model/device.js';
import type { MonitoredEntity } from '../spine/monitoring/values.js';
import type { LocalUseCase } from '../spine/node-management/use-cases.js';
import {
  energyManagerDeviceSpec,
  manufacturerServerData,
  monitoringApplianceUseCases,
  spineDeviceAddress,
  spineDeviceType,
} from '../spine/session/defaults.js';
import type { LocalServerData, SpineSessionEvent } from '../spine/session/types.js';
import type { Ski } from '../ship/ski.js';
import { ConfigError } from '../util/errors.js';
import { Hub, type HubOptions } from './hub.js';
import { SpineDriver } from './spine-driver.js';
import { TlsTransport, type HubTransport } from './transport.js';

/**
 * Our default SHIP port. SHIP fixes none (the SRV record carries it, SHIP §7); 4712 is what the
 * reference's examples and evcc use.
 */
export const DEFAULT_SHIP_PORT = 4712;

export interface CreateHubOptions extends Partial<
  Omit<HubOptions, 'localSki' | 'localShipId' | 'transport' | 'clock' | 'discovery' | 'spine'>
> {
  readonly identity: NodeIdentity;
  readonly shipId: string;
  /** TCP port of our SHIP server; 4712 by default, 0 for any free port. */
  readonly port?: number;
  readonly host?: string;
  /**
   * Discovery: a provider to choose ('auto', 'avahi', 'builtin'), a provider instance, or false
   * for none (then only incoming connections and registered SKIs).
   */
  readonly mdns?: MdnsProviderChoice | MdnsProvider | false;
  /** Restrict mDNS to these interfaces (names as in `ip link`; unknown names are refused). */
  readonly interfaces?: readonly string[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Accept certificates whose SKI extension is not the hash of their key (old devices). */
  readonly acceptLegacySki?: boolean;
  /** TLS + upgrade handshakes in flight at most (the rest wait in the kernel backlog). */
  readonly maxHandshakesInFlight?: number;
  /** From TCP accept to the WebSocket upgrade, at most. */
  readonly handshakeTimeoutMs?: number;
  /** From dialling to the WebSocket upgrade, at most. */
  readonly dialTimeoutMs?: number;
  /** Replaces TLS + WebSocket (an in-memory network in tests). */
  readonly transport?: HubTransport;
  /**
   * Our SPINE device: by default an energy manager (CEM, spine-protocol.md §5.1) with the
   * announced brand, model, type and serial, answering every device in data exchange and
   * reading its discovery, use cases, manufacturer data and heartbeat (hub.spine, `spine`
   * events). False for none (SPINE payloads then go to `setupRemoteDevice` only).
   */
  readonly spine?: CreateHubSpineOptions | false;
}

/** How createHub builds the SPINE driver. Every field is optional. */
export interface CreateHubSpineOptions {
  /** Our device (createLocalDevice); default the energy manager of energyManagerDeviceSpec. */
  readonly localDevice?: SpineDeviceDescription;
  /** Default `d:_n:<brand>_<model>-<serial>` from `announce` (spine-protocol.md §4.1). */
  readonly deviceAddress?: string;
  readonly useCases?: readonly LocalUseCase[];
  /** Data our server features answer with; default our manufacturer data (§9.1). */
  readonly serverData?: readonly LocalServerData[];
  /** Our announced heartbeat timeout (we send at half of it); default 60 s (§8.2). */
  readonly heartbeatTimeoutMs?: number;
  /** Silence after which the partner's heartbeat counts as lost (default 2 × its timeout). */
  readonly heartbeatLossMs?: number;
  /** Every SPINE payload received or sent (message counters). */
  readonly onMessage?: (ski: Ski, direction: 'received' | 'sent') => void;
  /**
   * Monitor devices that offer MPC/MGCP (spine-protocol.md §11.2, §11.3): subscribe to and read
   * their measurements; hub `measurements` events and `monitoring` in the summaries. Default true.
   */
  readonly monitoring?: boolean;
}

/** The default SPINE driver of a hub (see {@link CreateHubOptions.spine}). */
function buildSpineDriver(
  options: CreateHubOptions,
  spine: CreateHubSpineOptions,
  clock: Clock,
  emit: (ski: Ski, event: SpineSessionEvent) => void,
  emitMeasurements: (ski: Ski, entity: MonitoredEntity) => void,
): SpineDriver {
  const announce = options.announce;
  const brand = announce?.brand ?? 'ShipHub';
  const model = announce?.model ?? 'Hub';
  let localDevice = spine.localDevice;
  if (localDevice === undefined) {
    const device =
      spine.deviceAddress ??
      spineDeviceAddress({ brand, model, serial: announce?.serial ?? options.identity.ski });
    const built = createLocalDevice(
      energyManagerDeviceSpec({ device, deviceType: spineDeviceType(announce?.type ?? '') }),
    );
    if (!built.ok) {
      throw new ConfigError('SHIPHUB_ERR_CONFIG', `our SPINE device: ${built.errors.join('; ')}`);
    }
    localDevice = built.device;
  }
  return new SpineDriver({
    clock,
    session: {
      localDevice,
      // Announce what we do (§5.4): as a monitoring appliance unless monitoring is off.
      useCases: spine.useCases ?? (spine.monitoring === false ? [] : monitoringApplianceUseCases()),
      serverData: spine.serverData ?? [
        manufacturerServerData({
          brand,
          model,
          shipId: options.shipId,
          ...(announce?.serial !== undefined ? { serialNumber: announce.serial } : {}),
        }),
      ],
      ...(spine.heartbeatTimeoutMs !== undefined
        ? { heartbeatTimeoutMs: spine.heartbeatTimeoutMs }
        : {}),
      ...(spine.heartbeatLossMs !== undefined ? { heartbeatLossMs: spine.heartbeatLossMs } : {}),
    },
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
    onEvent: emit,
    monitoring: spine.monitoring ?? true,
    onMeasurements: emitMeasurements,
    ...(spine.onMessage !== undefined ? { onMessage: spine.onMessage } : {}),
  });
}

/**
 * Builds a hub with the real transport (TLS + WebSocket) and mDNS. Call `start()` on it. Pass a
 * `trustStore` (for example the file store `TrustStore.open(path)`) to keep pairings across
 * restarts; without one, trust lives in memory.
 *
 * @throws ConfigError when an interface in `interfaces` does not exist.
 * @example
 * const { identity } = await loadOrCreateIdentity({ certPath, keyPath, commonName: 'HEMS-1' });
 * const trustStore = await TrustStore.open('trusted_devices.json', { clock: systemClock });
 * const hub = await createHub({ identity, shipId: 'Acme-HEMS-1', trustStore, mdns: 'auto' });
 */
export async function createHub(options: CreateHubOptions): Promise<Hub> {
  const {
    identity,
    shipId,
    port,
    host,
    mdns,
    interfaces,
    acceptLegacySki,
    maxHandshakesInFlight,
    handshakeTimeoutMs,
    dialTimeoutMs,
    transport,
    clock: givenClock,
    spine: spineOptions,
    ...hubOptions
  } = options;
  const clock = givenClock ?? systemClock;
  const logger = options.logger;
  // The driver exists before the hub; it raises events only once connections exist, when `hub`
  // below is set.
  const spine =
    spineOptions === false || hubOptions.setupRemoteDevice !== undefined
      ? undefined
      : buildSpineDriver(
          options,
          spineOptions ?? {},
          clock,
          (ski, event) => hub.emit('spine', ski, event),
          (ski, entity) => hub.emit('measurements', ski, entity),
        );
  const discovery =
    mdns === false
      ? undefined
      : typeof mdns === 'object'
        ? mdns
        : await createMdnsProvider({
            provider: mdns ?? 'auto',
            clock,
            ownSki: identity.ski,
            ...(interfaces !== undefined && interfaces.length > 0 ? { interfaces } : {}),
            // createMdnsProvider binds component "mdns" itself (once: no repeated JSON key).
            ...(logger !== undefined ? { logger } : {}),
          });
  const hub: Hub = new Hub({
    ...hubOptions,
    ...(spine !== undefined ? { spine } : {}),
    localSki: identity.ski,
    localShipId: shipId,
    clock,
    ...(discovery !== undefined ? { discovery } : {}),
    transport:
      transport ??
      new TlsTransport({
        tls: createShipTlsContext(identity),
        localSki: identity.ski,
        localShipId: shipId,
        port: port ?? DEFAULT_SHIP_PORT,
        clock,
        acceptLegacySki: acceptLegacySki ?? false,
        ...(host !== undefined ? { host } : {}),
        ...(logger !== undefined ? { logger: logger.child({ component: 'transport' }) } : {}),
        ...(maxHandshakesInFlight !== undefined ? { maxHandshakesInFlight } : {}),
        ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
        ...(dialTimeoutMs !== undefined ? { dialTimeoutMs } : {}),
      }),
  });
  return hub;
}
