/**
 * One SPINE session with one remote device, as a pure step machine:
 * `step(state, input) → {state, effects}`. It ties the core together: the datagram codec, the
 * correlation machine (counters, pending requests, results), our device model and NodeManagement,
 * the partner's device model, merging of received data, and the heartbeat in both directions.
 *
 * Spec sections implemented (spine-protocol.md):
 * - §7.1/§7.4 connection sequence: on `start` read the partner's detailed discovery (destination
 *   `[0]:0` without device); on its reply subscribe to its NodeManagement, read its use case data
 *   and manufacturer data, subscribe to its heartbeat. Partners' reads are answered at any time,
 *   also before their discovery arrived (checklist item 22).
 * - §5.1–§5.7 NodeManagement as a server: detailed discovery, use case data, subscription and
 *   binding requests/deletes and their data lists, destination list; as a client: following the
 *   partner's discovery and use case notifies (entities added/removed, checklist items 28, 29).
 * - §6.2/§6.3 results and errors: destination unknown 4, function not supported 6, read of a
 *   client feature 7, write without binding 9, filters we cannot apply 8, invalid calls 1; a
 *   datagram that does not decode is answered when its sender can be addressed. Nothing a
 *   partner sends ends the session.
 * - §8 heartbeat: notified to every subscriber of our DeviceDiagnosis server at half the announced
 *   timeout, the first one at once; the partner's watched on our clock (§8.3).
 * - §9 DeviceClassification manufacturer data and DeviceDiagnosis state: served from the
 *   configured data, read from the partner.
 *
 * Several cmds in one datagram are processed in order (§2.1, checklist item 9); a read is
 * answered by one reply holding one cmd per read cmd, a failure stops at the first error.
 *
 * This file holds the entry points and the dispatch; the work is split by side: `serve.ts` (our
 * features, the partner's requests), `partner.ts` (the partner's device, our requests),
 * `heartbeat.ts` (both heartbeats) and `step.ts` (one step's scratch space).
 */
import {
  decodeDatagram,
  decodeDatagramText,
  type DatagramDecodeResult,
} from '../codec/datagram.js';
import * as correlation from '../correlation/machine.js';
import { answerableHeader, resultForDecodeError } from '../correlation/decode-errors.js';
import { featureKey } from '../model/address.js';
import type { SpineDatagram } from '../model/datagram.js';
import {
  DEFAULT_DISCOVERY_ATTEMPTS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  HEARTBEAT_SEND_TIMER,
  HEARTBEAT_WATCH_TIMER,
  type SessionTimerId,
  type SpineSessionConfig,
  type SpineSessionInput,
  type SpineSessionState,
  type SpineSessionStep,
} from './types.js';
import { Step } from './step.js';
import { answerRead, applyWrite, applyCall } from './serve.js';
import { heartbeatIntervalMs, heartbeatSubscribers, sendHeartbeat } from './heartbeat.js';
import {
  sendDiscoveryRead,
  onTimedOut,
  onResult,
  receiveData,
  appRead,
  appSubscribe,
  appWrite,
} from './partner.js';

/** The state of a new session (before `start`). Throws if our device has no address (a caller bug). */
export function initialSessionState(config: SpineSessionConfig): SpineSessionState {
  const device = config.localDevice.device;
  if (device === undefined || device === '') {
    throw new TypeError('the local SPINE device needs a device address');
  }
  const localData = new Map<string, Map<string, unknown>>();
  for (const item of config.serverData ?? []) {
    const key = featureKey(item.entity, item.feature);
    const functions = localData.get(key) ?? new Map<string, unknown>();
    functions.set(item.function, item.data);
    localData.set(key, functions);
  }
  return {
    config: {
      localDevice: config.localDevice,
      deviceAddress: device,
      useCases: config.useCases ?? [],
      heartbeatTimeoutMs: config.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
      heartbeatLossMs: config.heartbeatLossMs,
      discoveryAttempts: config.discoveryAttempts ?? DEFAULT_DISCOVERY_ATTEMPTS,
    },
    phase: 'new',
    correlation: correlation.initialCorrelationState({
      ...config.correlation,
      localDevice: device,
    }),
    localData,
    subscriptions: [],
    bindings: [],
    nextSubscriptionId: 1,
    nextBindingId: 1,
    heartbeatCounter: 0,
    heartbeatRunning: false,
    discoveryAttempts: 0,
    remote: {
      device: undefined,
      useCases: undefined,
      data: new Map(),
      relations: [],
      heartbeat: undefined,
    },
  };
}

/**
 * One step. Never throws for anything the partner sends; a malformed datagram is answered with
 * an error result when it can be addressed and otherwise only reported.
 */
export function step(state: SpineSessionState, input: SpineSessionInput): SpineSessionStep {
  const s = new Step(state, input.now, input.timestamp);
  if (state.phase === 'closed') return s.result();
  switch (input.kind) {
    case 'start':
      if (state.phase === 'new') {
        s.draft.phase = 'running';
        sendDiscoveryRead(s);
      }
      break;
    case 'receivedText':
      receive(s, decodeDatagramText(input.text));
      break;
    case 'receivedValue':
      receive(s, decodeDatagram(input.value));
      break;
    case 'timer':
      onTimer(s, input.id);
      break;
    case 'read':
      appRead(s, input.destination, input.function);
      break;
    case 'subscribe':
      appSubscribe(s, input.server, input.relation ?? 'subscription');
      break;
    case 'write':
      appWrite(s, input.destination, input.function, input.data, input.partial === true);
      break;
    case 'closed':
      s.correlate({ kind: 'closed', now: s.now });
      if (s.draft.heartbeatRunning) s.cancelTimer(HEARTBEAT_SEND_TIMER);
      if (s.remote.heartbeat !== undefined && !s.remote.heartbeat.lost) {
        s.cancelTimer(HEARTBEAT_WATCH_TIMER);
      }
      s.draft.heartbeatRunning = false;
      s.draft.phase = 'closed';
      break;
  }
  return s.result();
}

// ---------------------------------------------------------------------------------------------
// Receiving

function receive(s: Step, decoded: DatagramDecodeResult): void {
  if (!decoded.ok) {
    s.emit({ kind: 'undecodable', error: decoded.error });
    const header = answerableHeader(decoded.error);
    if (header !== undefined) {
      const result = resultForDecodeError(decoded.error);
      s.emit({ kind: 'errorAnswered', request: header, result });
      s.correlate({ kind: 'acknowledge', now: s.now, request: header, result });
    }
    return;
  }
  const datagram = decoded.datagram;
  for (const event of s.correlate({ kind: 'received', now: s.now, datagram })) {
    switch (event.kind) {
      case 'replied':
        s.answer(datagram.header, receiveData(s, datagram, 'reply'));
        break;
      case 'resultReceived':
        onResult(s, event.request, event.result);
        break;
      case 'deliver':
        deliver(s, datagram);
        break;
      case 'timedOut':
      case 'abandoned':
      case 'refused':
        break;
    }
  }
  for (const work of s.after.splice(0)) work();
}

/** Everything that is not an awaited answer (§2.2). */
function deliver(s: Step, datagram: SpineDatagram): void {
  const { header } = datagram;
  switch (header.cmdClassifier) {
    case 'read':
      answerRead(s, datagram);
      return;
    case 'write':
      s.answer(header, applyWrite(s, datagram));
      return;
    case 'call':
      s.answer(header, applyCall(s, datagram));
      return;
    case 'notify':
    case 'reply':
      s.answer(header, receiveData(s, datagram, header.cmdClassifier));
      return;
    case 'result':
      // A result nobody waits for (late, or for a request that expected none): nothing to do,
      // and a result is never answered (SPINE-TS-DATA-06).
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Timers

function onTimer(s: Step, id: SessionTimerId): void {
  switch (id) {
    case correlation.RESPONSE_TIMER:
      for (const event of s.correlate({ kind: 'timer', now: s.now })) {
        if (event.kind === 'timedOut') onTimedOut(s, event.request);
      }
      return;
    case HEARTBEAT_SEND_TIMER: {
      const subscribers = heartbeatSubscribers(s);
      if (subscribers.length === 0) {
        s.draft.heartbeatRunning = false;
        return;
      }
      s.draft.heartbeatCounter += 1;
      sendHeartbeat(s, subscribers);
      s.startTimer(HEARTBEAT_SEND_TIMER, heartbeatIntervalMs(s));
      return;
    }
    case HEARTBEAT_WATCH_TIMER: {
      const watch = s.remote.heartbeat;
      if (watch === undefined || watch.lost) return;
      const silentForMs = s.now - watch.lastSeenAt;
      if (silentForMs < watch.lossMs) {
        s.startTimer(HEARTBEAT_WATCH_TIMER, watch.lossMs - silentForMs);
        return;
      }
      s.remote.heartbeat = { ...watch, lost: true };
      s.emit({
        kind: 'heartbeatLost',
        feature: watch.feature,
        lastSeenAt: watch.lastSeenAt,
        silentForMs,
      });
      return;
    }
  }
}
