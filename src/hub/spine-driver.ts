/**
 * The thin driver that runs one pure SPINE session (src/spine/session) per device in data
 * exchange: it plugs into the hub as `setupRemoteDevice`, feeds the session every received
 * payload as text (lossless 64-bit counters, spine-protocol.md §1), sends what the session sends
 * as JSON text (RawJsonPayload), runs its timers on the injected Clock and hands its events on.
 * Every protocol decision is the session's.
 */
import type { Logger } from 'pino';
import { RawJsonPayload } from '../ship/codec/data.js';
import type { Ski } from '../ship/ski.js';
import { featureKey, sameFeature, type FeatureAddress } from '../spine/model/address.js';
import {
  monitoringRequests,
  monitoringTargets,
  targetKey,
  type MonitoringTarget,
} from '../spine/monitoring/targets.js';
import {
  monitoredEntity,
  undescribedMeasurementIds,
  type MonitoredEntity,
} from '../spine/monitoring/values.js';
import type { RelationKind } from '../spine/node-management/relations.js';
import { initialSessionState, step } from '../spine/session/session.js';
import type {
  SessionTimerId,
  SpineSessionConfig,
  SpineSessionEvent,
  SpineSessionInput,
  SpineSessionState,
} from '../spine/session/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { formatTimestamp } from '../util/rfc3339.js';
import { summarizeSpineSession, type SpineDeviceSummary } from './spine-summary.js';
import type { DeviceDataHandler, RemoteDevice } from './types.js';

/** Options of {@link SpineDriver}. */
export interface SpineDriverOptions {
  readonly clock: Clock;
  /** Our device, use cases and server data: the same for every connection. */
  readonly session: SpineSessionConfig;
  readonly logger?: Logger;
  /** Every session event, with the device it concerns. Exceptions are logged, not propagated. */
  readonly onEvent?: (ski: Ski, event: SpineSessionEvent) => void;
  /** Every SPINE payload received from or sent to a device (for message counters). */
  readonly onMessage?: (ski: Ski, direction: 'received' | 'sent') => void;
  /**
   * Monitor what devices offer as MPC/MGCP partners (spine-protocol.md §11.2, §11.3): subscribe
   * and read their measurements, and report the values of a monitored entity whenever its data
   * changes. Default true.
   */
  readonly monitoring?: boolean;
  /** New values of a monitored entity (after every reply or notify of its data). */
  readonly onMeasurements?: (ski: Ski, entity: MonitoredEntity) => void;
}

/** A session input without the time fields, which the driver fills in from its clock. */
type UntimedInput = SpineSessionInput extends infer I
  ? I extends unknown
    ? Omit<I, 'now' | 'timestamp'>
    : never
  : never;

/** Measurement ids per connection whose descriptions we re-read at most (hostile devices). */
const MAX_DESCRIPTION_REREADS = 1_024;

/** The session of one connection: state, timers, and an input queue against re-entrance. */
class DeviceSession {
  state: SpineSessionState;
  private readonly timers = new Map<SessionTimerId, TimerHandle>();
  private readonly queue: SpineSessionInput[] = [];
  private processing = false;

  constructor(
    private readonly driver: SpineDriverOptions,
    readonly device: RemoteDevice,
    private readonly logger: Logger | undefined,
  ) {
    this.state = initialSessionState(driver.session);
  }

  /** Steps one input (queued while another is being stepped, so effects keep their order). */
  input(input: UntimedInput): void {
    this.queue.push({
      ...input,
      now: this.driver.clock.now(),
      timestamp: formatTimestamp(this.driver.clock.wallNow()),
    });
    if (this.processing) return;
    this.processing = true;
    try {
      let next: SpineSessionInput | undefined;
      while ((next = this.queue.shift()) !== undefined) {
        const result = step(this.state, next);
        this.state = result.state;
        for (const effect of result.effects) {
          switch (effect.kind) {
            case 'send':
              this.send(effect.text);
              break;
            case 'startTimer':
              this.startTimer(effect.id, effect.ms);
              break;
            case 'cancelTimer':
              this.timers.get(effect.id)?.cancel();
              this.timers.delete(effect.id);
              break;
            case 'event':
              this.report(effect.event);
              break;
          }
        }
      }
    } finally {
      this.processing = false;
    }
  }

  private send(text: string): void {
    if (this.state.phase === 'closed') return;
    try {
      this.device.send(new RawJsonPayload(text));
      this.driver.onMessage?.(this.device.ski, 'sent');
      if (this.logger?.isLevelEnabled('trace'))
        this.logger.trace({ bytes: text.length }, 'SPINE send');
    } catch (err) {
      // The connection is closing under us: its `closed` input follows.
      this.logger?.debug({ err }, 'SPINE datagram not sent');
    }
  }

  private startTimer(id: SessionTimerId, ms: number): void {
    this.timers.get(id)?.cancel();
    this.timers.set(
      id,
      this.driver.clock.setTimer(`spine-${id}`, ms, () => {
        this.timers.delete(id);
        this.input({ kind: 'timer', id });
      }),
    );
  }

  private report(event: SpineSessionEvent): void {
    if (this.logger?.isLevelEnabled('debug'))
      this.logger.debug({ event: event.kind }, 'SPINE event');
    try {
      this.driver.onEvent?.(this.device.ski, event);
    } catch (err) {
      this.logger?.error({ err }, 'SPINE event handler threw');
    }
    if (this.driver.monitoring !== false) this.monitor(event);
  }

  /** Targets whose procedure was started on this connection (by {@link targetKey}). */
  private readonly monitored = new Map<string, MonitoringTarget>();
  /** Measurement ids we re-read descriptions for once (`featureKey#id`), so a device cannot loop us. */
  private readonly rereadFor = new Set<string>();

  /**
   * The monitoring appliance side of MPC/MGCP (§7.1, §11.2): start the procedure of every new
   * target once discovery and use cases are known; report new values of a target's data;
   * re-read descriptions once for values whose description is missing (§11.2 rules).
   */
  private monitor(event: SpineSessionEvent): void {
    const { device, useCases, data } = this.state.remote;
    if (
      (event.kind === 'discovered' ||
        event.kind === 'discoveryChanged' ||
        event.kind === 'useCases') &&
      device !== undefined &&
      useCases !== undefined
    ) {
      const targets = monitoringTargets(device, useCases);
      const current = new Set(targets.map(targetKey));
      // An entity that left and comes back is monitored again (§5.3, §7.4 step 5).
      for (const key of this.monitored.keys()) if (!current.has(key)) this.monitored.delete(key);
      for (const target of targets) {
        if (this.monitored.has(targetKey(target))) continue;
        this.monitored.set(targetKey(target), target);
        for (const request of monitoringRequests(target, device)) {
          if (request.kind === 'subscribe') {
            this.input({ kind: 'subscribe', server: request.server, relation: 'subscription' });
          } else {
            this.input({
              kind: 'read',
              destination: request.destination,
              function: request.function,
            });
          }
        }
      }
      return;
    }
    if (event.kind !== 'dataUpdated') return;
    for (const target of this.monitored.values()) {
      const features = [
        target.measurement,
        target.electricalConnection,
        target.deviceConfiguration,
      ];
      if (
        !features.some((feature) => feature !== undefined && sameFeature(feature, event.feature))
      ) {
        continue;
      }
      if (
        event.function === 'measurementListData' &&
        sameFeature(target.measurement, event.feature)
      ) {
        this.rereadDescriptions(target);
      }
      try {
        this.driver.onMeasurements?.(this.device.ski, monitoredEntity(target, data));
      } catch (err) {
        this.logger?.error({ err }, 'SPINE measurements handler threw');
      }
    }
  }

  private rereadDescriptions(target: MonitoringTarget): void {
    const { entity = [], feature = 0 } = target.measurement;
    const stored = this.state.remote.data.get(featureKey(entity, feature));
    const missing = undescribedMeasurementIds({
      measurementDescriptionListData: stored?.get('measurementDescriptionListData'),
      measurementListData: stored?.get('measurementListData'),
    }).filter((id) => !this.rereadFor.has(`${featureKey(entity, feature)}#${id}`));
    if (missing.length === 0 || this.rereadFor.size >= MAX_DESCRIPTION_REREADS) return;
    for (const id of missing) this.rereadFor.add(`${featureKey(entity, feature)}#${id}`);
    this.input({
      kind: 'read',
      destination: target.measurement,
      function: 'measurementDescriptionListData',
    });
  }

  close(): void {
    this.input({ kind: 'closed' });
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }
}

/**
 * Runs a SPINE session for every device in data exchange. Pass
 * `setupRemoteDevice` to the hub (HubOptions.setupRemoteDevice).
 */
export class SpineDriver {
  private readonly sessions = new Map<Ski, DeviceSession>();
  private readonly options: SpineDriverOptions;

  constructor(options: SpineDriverOptions) {
    // Refuse a broken local device now, not at the first connection.
    initialSessionState(options.session);
    this.options = options;
  }

  /** The hub's hook: a new session that starts at once (§7.1: read the partner's discovery). */
  readonly setupRemoteDevice = (device: RemoteDevice): DeviceDataHandler => {
    const logger = this.options.logger?.child({ component: 'spine', peerSki: device.ski });
    const session = new DeviceSession(this.options, device, logger);
    this.sessions.get(device.ski)?.close();
    this.sessions.set(device.ski, session);
    session.input({ kind: 'start' });
    return {
      onData: (payload, payloadText) => {
        this.options.onMessage?.(device.ski, 'received');
        if (payloadText !== undefined) session.input({ kind: 'receivedText', text: payloadText });
        else session.input({ kind: 'receivedValue', value: payload });
      },
      onClose: () => {
        session.close();
        if (this.sessions.get(device.ski) === session) this.sessions.delete(device.ski);
      },
    };
  };

  /** The devices with a session now. */
  devices(): Ski[] {
    return [...this.sessions.keys()];
  }

  /** A device's session state (its remote view: discovery, use cases, data, heartbeat). */
  state(ski: Ski): SpineSessionState | undefined {
    return this.sessions.get(ski)?.state;
  }

  /** What a device in data exchange is on the SPINE side (undefined: it has no session). */
  summary(ski: Ski): SpineDeviceSummary | undefined {
    const session = this.sessions.get(ski);
    return session === undefined
      ? undefined
      : summarizeSpineSession(session.state, this.options.clock.now());
  }

  /** The summaries of every device with a session, by SKI. */
  summaries(): Map<Ski, SpineDeviceSummary> {
    const now = this.options.clock.now();
    return new Map(
      [...this.sessions].map(([ski, session]) => [ski, summarizeSpineSession(session.state, now)]),
    );
  }

  /** Reads a function of a partner's feature; false if the device has no session. */
  read(ski: Ski, destination: FeatureAddress, functionName: string): boolean {
    const session = this.sessions.get(ski);
    session?.input({ kind: 'read', destination, function: functionName });
    return session !== undefined;
  }

  /** Subscribes (or binds) to a partner's server feature; false if the device has no session. */
  subscribe(ski: Ski, server: FeatureAddress, relation: RelationKind = 'subscription'): boolean {
    const session = this.sessions.get(ski);
    session?.input({ kind: 'subscribe', server, relation });
    return session !== undefined;
  }

  /**
   * Writes function data to a partner's server feature (§3.2): `written` or `requestFailed`
   * follows as a session event. Partners refuse writes without a binding (error 9), so bind
   * first: `subscribe(ski, server, 'binding')`. `partial` changes only the given items (§3.1).
   * False if the device has no session.
   */
  write(
    ski: Ski,
    destination: FeatureAddress,
    functionName: string,
    data: unknown,
    options: { readonly partial?: boolean } = {},
  ): boolean {
    const session = this.sessions.get(ski);
    session?.input({
      kind: 'write',
      destination,
      function: functionName,
      data,
      partial: options.partial === true,
    });
    return session !== undefined;
  }

  /** Ends every session (the hub closes the connections themselves). */
  close(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
