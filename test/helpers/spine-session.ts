/**
 * A test harness around the pure SPINE session (src/spine/session): feeds datagrams as wire text,
 * collects effects, and builds the partner's datagrams.
 */
import { encodeDatagramText } from '../../src/spine/codec/datagram.js';
import { createLocalDevice, type LocalDeviceSpec } from '../../src/spine/device/local.js';
import type { FeatureAddress } from '../../src/spine/model/address.js';
import type {
  CmdClassifier,
  ResultData,
  SpineCmd,
  SpineDatagram,
} from '../../src/spine/model/datagram.js';
import type { DeviceDescription } from '../../src/spine/model/device.js';
import { energyManagerDeviceSpec } from '../../src/spine/session/defaults.js';
import { initialSessionState, step } from '../../src/spine/session/session.js';
import type {
  SessionTimerId,
  SpineSessionConfig,
  SpineSessionEffect,
  SpineSessionEvent,
  SpineSessionInput,
  SpineSessionState,
} from '../../src/spine/session/types.js';

export const US = 'd:_n:ShipHub_HEMS-0001';
export const PEER = 'd:_i:12345_HeatPump-42';

/** Our default device (the §5.1 example layout). */
export function localDevice(spec?: LocalDeviceSpec): DeviceDescription {
  const built = createLocalDevice(spec ?? energyManagerDeviceSpec({ device: US }));
  if (!built.ok) throw new Error(built.errors.join('; '));
  return built.device;
}

/** Drives one session; every effect is kept in `effects`, each call returns its own. */
export class SessionHarness {
  state: SpineSessionState;
  now = 0;
  readonly effects: SpineSessionEffect[] = [];
  private peerCounter = 1000n;

  constructor(config?: Partial<SpineSessionConfig>) {
    this.state = initialSessionState({ localDevice: localDevice(), ...config });
  }

  input(input: SpineSessionInput): SpineSessionEffect[] {
    const result = step(this.state, input);
    this.state = result.state;
    this.effects.push(...result.effects);
    return [...result.effects];
  }

  start(): SpineSessionEffect[] {
    return this.input({ kind: 'start', now: this.now, timestamp: this.timestamp() });
  }

  /** Feeds a datagram as the wire text a SHIP data message would carry. */
  receive(datagram: SpineDatagram): SpineSessionEffect[] {
    return this.receiveText(encodeDatagramText(datagram));
  }

  receiveText(text: string): SpineSessionEffect[] {
    return this.input({ kind: 'receivedText', now: this.now, timestamp: this.timestamp(), text });
  }

  fire(id: SessionTimerId): SpineSessionEffect[] {
    return this.input({ kind: 'timer', now: this.now, timestamp: this.timestamp(), id });
  }

  timestamp(): string {
    // A fixed epoch plus our clock: deterministic wall time for heartbeat timestamps.
    const seconds = Math.floor(this.now / 1000);
    return `2026-01-01T00:${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}Z`;
  }

  /** A datagram from the partner with a fresh counter. */
  peer(
    classifier: CmdClassifier,
    source: FeatureAddress,
    destination: FeatureAddress,
    cmd: SpineCmd | readonly SpineCmd[],
    options?: { ackRequest?: boolean; msgCounter?: bigint; msgCounterReference?: bigint },
  ): SpineDatagram {
    const msgCounter = options?.msgCounter ?? this.peerCounter++;
    return {
      header: {
        specificationVersion: '1.3.0',
        addressSource: source,
        addressDestination: destination,
        msgCounter,
        ...(options?.msgCounterReference !== undefined
          ? { msgCounterReference: options.msgCounterReference }
          : {}),
        cmdClassifier: classifier,
        ...(options?.ackRequest !== undefined ? { ackRequest: options.ackRequest } : {}),
      },
      payload: { cmd: Array.isArray(cmd) ? (cmd as readonly SpineCmd[]) : [cmd as SpineCmd] },
    };
  }
}

export function sent(effects: readonly SpineSessionEffect[]): SpineDatagram[] {
  return effects.flatMap((e) => (e.kind === 'send' ? [e.datagram] : []));
}

export function events(effects: readonly SpineSessionEffect[]): SpineSessionEvent[] {
  return effects.flatMap((e) => (e.kind === 'event' ? [e.event] : []));
}

export function timers(effects: readonly SpineSessionEffect[]) {
  return effects.flatMap((e) => (e.kind === 'startTimer' || e.kind === 'cancelTimer' ? [e] : []));
}

/** The resultData of a result datagram. */
export function resultOf(datagram: SpineDatagram): ResultData {
  return datagram.payload.cmd[0]?.data?.value as ResultData;
}

/** A cmd holding one function element. */
export function cmd(name: string, value: unknown = {}): SpineCmd {
  return { data: { name, value } };
}
