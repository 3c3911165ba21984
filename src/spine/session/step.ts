/**
 * The scratch space of one SPINE session step (see session.ts): the draft state, the effects so
 * far, and the small address helpers every part of the session uses.
 */
import { encodeDatagramText } from '../codec/datagram.js';
import * as correlation from '../correlation/machine.js';
import { NODE_MANAGEMENT_FEATURE, sameEntity, type FeatureAddress } from '../model/address.js';
import { ErrorNumber, type ResultData, type SpineHeader } from '../model/datagram.js';
import { featuresOf, type DeviceDescription, type FeatureDescription } from '../model/device.js';
import {
  type OurRelation,
  type RemoteView,
  type SessionTimerId,
  type SpineSessionEffect,
  type SpineSessionEvent,
  type SpineSessionState,
  type SpineSessionStep,
} from './types.js';

export const DISCOVERY = 'nodeManagementDetailedDiscoveryData';
export const USE_CASES = 'nodeManagementUseCaseData';
export const HEARTBEAT = 'deviceDiagnosisHeartbeatData';
export const MANUFACTURER = 'deviceClassificationManufacturerData';
export const DIAGNOSIS_STATE = 'deviceDiagnosisStateData';

/** Why we sent a request, carried as the correlation tag. */
export type Purpose =
  | { readonly purpose: 'discovery' }
  | { readonly purpose: 'useCases' }
  | { readonly purpose: 'read' }
  | { readonly purpose: 'write' }
  | { readonly purpose: 'relation'; readonly relation: OurRelation };

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One step's scratch space: the draft state and the effects so far. */
export class Step {
  readonly draft: Mutable<SpineSessionState>;
  readonly remote: Mutable<RemoteView>;
  readonly effects: SpineSessionEffect[] = [];
  /** Work to do after the current datagram was acknowledged (first heartbeat after a subscription). */
  readonly after: Array<() => void> = [];

  constructor(
    state: SpineSessionState,
    readonly now: number,
    readonly timestamp: string | undefined,
  ) {
    this.remote = { ...state.remote };
    this.draft = { ...state, remote: this.remote };
  }

  get local(): DeviceDescription {
    return this.draft.config.localDevice;
  }

  get deviceAddress(): string {
    return this.draft.config.deviceAddress;
  }

  emit(event: SpineSessionEvent): void {
    this.effects.push({ kind: 'event', event });
  }

  startTimer(id: SessionTimerId, ms: number): void {
    this.effects.push({ kind: 'startTimer', id, ms: Math.max(0, ms) });
  }

  cancelTimer(id: SessionTimerId): void {
    this.effects.push({ kind: 'cancelTimer', id });
  }

  /** Runs the correlation machine; its sends and timers become ours, its events are returned. */
  correlate(input: correlation.CorrelationInput): correlation.CorrelationEvent[] {
    const result = correlation.step(this.draft.correlation, input);
    this.draft.correlation = result.state;
    const events: correlation.CorrelationEvent[] = [];
    for (const effect of result.effects) {
      switch (effect.kind) {
        case 'send':
          this.effects.push({
            kind: 'send',
            text: encodeDatagramText(effect.datagram),
            datagram: effect.datagram,
          });
          break;
        case 'startTimer':
          this.startTimer(effect.id, effect.ms);
          break;
        case 'cancelTimer':
          this.cancelTimer(effect.id);
          break;
        case 'event':
          events.push(effect.event);
          break;
      }
    }
    return events;
  }

  /** Sends a request or notify; a refusal (closed, too many pending) becomes a warning. */
  request(request: correlation.OutgoingRequest): void {
    for (const event of this.correlate({ kind: 'send', now: this.now, request })) {
      if (event.kind === 'refused') {
        this.emit({
          kind: 'warning',
          message: `${request.classifier} not sent: ${event.reason}`,
        });
      }
    }
  }

  /** Sends the `result` §6.2 asks for after processing `header` with `outcome`. */
  answer(header: SpineHeader, outcome: ResultData): void {
    if (outcome.errorNumber !== 0)
      this.emit({ kind: 'errorAnswered', request: header, result: outcome });
    if (!correlation.resultOwed(header, outcome)) return;
    this.correlate({ kind: 'acknowledge', now: this.now, request: header, result: outcome });
  }

  result(): SpineSessionStep {
    return { state: this.draft, effects: this.effects };
  }
}

export const OK: ResultData = { errorNumber: ErrorNumber.NoError };

export function fail(errorNumber: number, description: string): ResultData {
  return { errorNumber, description };
}

/** Our NodeManagement address (§5). */
export function localNodeManagement(s: Step): FeatureAddress {
  return { device: s.deviceAddress, entity: [0], feature: NODE_MANAGEMENT_FEATURE };
}

export function isNodeManagement(address: FeatureAddress): boolean {
  return sameEntity(address.entity, [0]) && address.feature === NODE_MANAGEMENT_FEATURE;
}

/** A local feature with its full address. */
export interface LocalFeature {
  readonly address: FeatureAddress;
  readonly feature: FeatureDescription;
}

export function localFeatures(s: Step, type: string, role: 'client' | 'server'): LocalFeature[] {
  return featuresOf(s.local, type, role).map(({ entity, feature }) => ({
    address: { device: s.deviceAddress, entity: entity.entity, feature: feature.feature },
    feature,
  }));
}

/** A partner's feature with its full address. */
export function remoteAddress(
  device: DeviceDescription,
  entity: readonly number[],
  feature: number,
) {
  const address: FeatureAddress = { entity, feature };
  return device.device === undefined ? address : { device: device.device, ...address };
}

/** The partner's address of a datagram's sender, with its device filled in when known. */
export function senderOf(s: Step, header: SpineHeader): FeatureAddress {
  const source = header.addressSource;
  const device = s.remote.device?.device;
  return source.device === undefined && device !== undefined ? { device, ...source } : source;
}
