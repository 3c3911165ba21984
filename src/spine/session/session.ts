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
 */
import {
  decodeDatagram,
  decodeDatagramText,
  encodeDatagramText,
  type DatagramDecodeResult,
} from '../codec/datagram.js';
import { isObject, own } from '../codec/values.js';
import * as correlation from '../correlation/machine.js';
import { answerableHeader, resultForDecodeError } from '../correlation/decode-errors.js';
import { buildDetailedDiscoveryData } from '../device/local.js';
import { applyDiscoveryNotify, parseDetailedDiscovery } from '../device/discovery.js';
import { mergeFunctionData, type MergeMode } from '../merge/merge.js';
import {
  entityKey,
  featureKey,
  NODE_MANAGEMENT_FEATURE,
  sameEntity,
  sameFeature,
  type FeatureAddress,
} from '../model/address.js';
import {
  ErrorNumber,
  type ResultData,
  type SpineCmd,
  type SpineDatagram,
  type SpineHeader,
} from '../model/datagram.js';
import {
  featuresOf,
  findFeature,
  supportedFunction,
  type DeviceDescription,
  type FeatureDescription,
} from '../model/device.js';
import {
  buildRelationData,
  buildRelationRequest,
  readRelationDelete,
  readRelationRequest,
  relationMatches,
  type RelationEntry,
  type RelationKind,
} from '../node-management/relations.js';
import { buildUseCaseData, parseUseCaseData } from '../node-management/use-cases.js';
import { formatDurationSeconds, parseDurationMs } from './duration.js';
import {
  DEFAULT_DISCOVERY_ATTEMPTS,
  DEFAULT_HEARTBEAT_LOSS_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  HEARTBEAT_SEND_TIMER,
  HEARTBEAT_WATCH_TIMER,
  type HeartbeatWatch,
  type OurRelation,
  type RemoteView,
  type SessionTimerId,
  type SpineSessionConfig,
  type SpineSessionEffect,
  type SpineSessionEvent,
  type SpineSessionInput,
  type SpineSessionState,
  type SpineSessionStep,
} from './types.js';

const DISCOVERY = 'nodeManagementDetailedDiscoveryData';
const USE_CASES = 'nodeManagementUseCaseData';
const HEARTBEAT = 'deviceDiagnosisHeartbeatData';
const MANUFACTURER = 'deviceClassificationManufacturerData';
const DIAGNOSIS_STATE = 'deviceDiagnosisStateData';

/** Why we sent a request, carried as the correlation tag. */
type Purpose =
  | { readonly purpose: 'discovery' }
  | { readonly purpose: 'useCases' }
  | { readonly purpose: 'read' }
  | { readonly purpose: 'relation'; readonly relation: OurRelation };

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

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One step's scratch space: the draft state and the effects so far. */
class Step {
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

const OK: ResultData = { errorNumber: ErrorNumber.NoError };

function fail(errorNumber: number, description: string): ResultData {
  return { errorNumber, description };
}

/** Our NodeManagement address (§5). */
function localNodeManagement(s: Step): FeatureAddress {
  return { device: s.deviceAddress, entity: [0], feature: NODE_MANAGEMENT_FEATURE };
}

function isNodeManagement(address: FeatureAddress): boolean {
  return sameEntity(address.entity, [0]) && address.feature === NODE_MANAGEMENT_FEATURE;
}

/** A local feature with its full address. */
interface LocalFeature {
  readonly address: FeatureAddress;
  readonly feature: FeatureDescription;
}

function localFeatures(s: Step, type: string, role: 'client' | 'server'): LocalFeature[] {
  return featuresOf(s.local, type, role).map(({ entity, feature }) => ({
    address: { device: s.deviceAddress, entity: entity.entity, feature: feature.feature },
    feature,
  }));
}

/** A partner's feature with its full address. */
function remoteAddress(device: DeviceDescription, entity: readonly number[], feature: number) {
  const address: FeatureAddress = { entity, feature };
  return device.device === undefined ? address : { device: device.device, ...address };
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

/** The local feature a datagram is addressed to, or error 4 (§6.3 "destination unknown"). */
function addressedFeature(s: Step, header: SpineHeader): LocalFeature | ResultData {
  const destination = header.addressDestination;
  if (destination.device !== undefined && destination.device !== s.deviceAddress) {
    return fail(ErrorNumber.DestinationUnknown, `device ${destination.device} is not this device`);
  }
  if (destination.entity === undefined || destination.feature === undefined) {
    return fail(ErrorNumber.DestinationUnknown, 'the destination names no entity and feature');
  }
  const feature = findFeature(s.local, destination.entity, destination.feature);
  if (feature === undefined) {
    return fail(
      ErrorNumber.DestinationUnknown,
      `no feature [${destination.entity.join(',')}]:${destination.feature}`,
    );
  }
  return {
    address: { device: s.deviceAddress, entity: destination.entity, feature: destination.feature },
    feature,
  };
}

function isResult(value: LocalFeature | ResultData): value is ResultData {
  return 'errorNumber' in value;
}

/** The partner's address of a datagram's sender, with its device filled in when known. */
function senderOf(s: Step, header: SpineHeader): FeatureAddress {
  const source = header.addressSource;
  const device = s.remote.device?.device;
  return source.device === undefined && device !== undefined ? { device, ...source } : source;
}

// ---------------------------------------------------------------------------------------------
// Our server side: reads, writes, calls

/** Answers a read with one reply (one cmd per read cmd) or one error result (§6.2 rule 1). */
function answerRead(s: Step, datagram: SpineDatagram): void {
  const { header } = datagram;
  const target = addressedFeature(s, header);
  if (isResult(target)) {
    s.answer(header, target);
    return;
  }
  if (target.feature.role === 'client') {
    s.answer(header, fail(ErrorNumber.CommandRejected, 'a client feature cannot be read'));
    return;
  }
  const replies: SpineCmd[] = [];
  for (const cmd of datagram.payload.cmd) {
    const name = cmd.data?.name;
    const fn = name === undefined ? undefined : supportedFunction(target.feature, name);
    if (name === undefined || fn === undefined || !fn.read) {
      s.answer(
        header,
        fail(
          ErrorNumber.CommandNotSupported,
          name === undefined
            ? 'the cmd holds no known function'
            : `${name} cannot be read on this feature`,
        ),
      );
      return;
    }
    // We announce no partial reads, so a filter is ignored and the whole function is answered
    // (SPINE_PS 5.3.4.5: a server may answer with more than asked; §3.1).
    replies.push({ data: { name, value: readLocal(s, target, name) } });
  }
  s.correlate({ kind: 'reply', now: s.now, request: header, cmd: replies });
}

/** The current data of one of our functions (§5.1, §5.4–§5.7, §8.1, §9). */
function readLocal(s: Step, target: LocalFeature, name: string): unknown {
  switch (name) {
    case DISCOVERY:
      return buildDetailedDiscoveryData(s.local);
    case USE_CASES:
      return buildUseCaseData(s.deviceAddress, s.draft.config.useCases);
    case 'nodeManagementSubscriptionData':
      return buildRelationData('subscription', s.draft.subscriptions);
    case 'nodeManagementBindingData':
      return buildRelationData('binding', s.draft.bindings);
    case 'nodeManagementDestinationListData': {
      // §5.7: the devices reachable through this node — only ourselves.
      const description: Record<string, unknown> = { deviceAddress: { device: s.deviceAddress } };
      if (s.local.type !== undefined) description.deviceType = s.local.type;
      if (s.local.networkFeatureSet !== undefined) {
        description.networkFeatureSet = s.local.networkFeatureSet;
      }
      return { nodeManagementDestinationData: [{ deviceDescription: description }] };
    }
    case HEARTBEAT:
      return heartbeatData(s);
  }
  const stored = s.draft.localData
    .get(featureKey(target.address.entity ?? [], target.feature.feature))
    ?.get(name);
  if (stored !== undefined) return stored;
  // §9.2: offer the diagnosis state filled in (spine-go leaves it empty).
  if (name === DIAGNOSIS_STATE) return { operatingState: 'normalOperation' };
  return {};
}

/**
 * A write to one of our server features (§5.6, §6.3): the function must be announced writable
 * (6), the writer bound (9), the data applicable (merge rules, 7/8); then subscribers are
 * notified before the result goes out (checklist item 19).
 */
function applyWrite(s: Step, datagram: SpineDatagram): ResultData {
  const { header } = datagram;
  const target = addressedFeature(s, header);
  if (isResult(target)) return target;
  if (target.feature.role !== 'server') {
    return fail(ErrorNumber.CommandRejected, `a ${target.feature.role} feature cannot be written`);
  }
  const writer = senderOf(s, header);
  const bound = s.draft.bindings.some(
    (b) => sameFeature(b.server, target.address) && sameFeature(b.client, writer),
  );
  const key = featureKey(target.address.entity ?? [], target.feature.feature);
  for (const cmd of datagram.payload.cmd) {
    const name = cmd.data?.name;
    const fn = name === undefined ? undefined : supportedFunction(target.feature, name);
    if (name === undefined || fn === undefined || !fn.write) {
      return fail(
        ErrorNumber.CommandNotSupported,
        name === undefined ? 'the cmd holds no known function' : `${name} is not writable here`,
      );
    }
    // SPINE_PS 7.3.5 / SPINE-TS-BIND-02: error 9 for a write without binding (§5.6).
    if (!bound) {
      return fail(ErrorNumber.BindingIsNecessaryForThisCommand, 'write without binding');
    }
    const stored = s.draft.localData.get(key)?.get(name);
    const merged = mergeFunctionData(stored, cmd, 'write');
    if (!merged.ok) return { errorNumber: merged.errorNumber, description: merged.description };
    setLocalData(s, key, name, merged.data);
    notifySubscribers(s, target.address, name, merged.data);
  }
  return OK;
}

function setLocalData(s: Step, key: string, name: string, data: unknown): void {
  const table = new Map(s.draft.localData);
  const functions = new Map(table.get(key) ?? []);
  functions.set(name, data);
  table.set(key, functions);
  s.draft.localData = table;
}

/** Notifies the whole function to every subscriber of one of our server features (§5.5). */
function notifySubscribers(s: Step, server: FeatureAddress, name: string, data: unknown): void {
  for (const entry of s.draft.subscriptions) {
    if (!sameFeature(entry.server, server)) continue;
    s.request({
      classifier: 'notify',
      source: server,
      destination: entry.client,
      cmd: { data: { name, value: data } },
    });
  }
}

/** Calls go to NodeManagement only (§5.5, §5.6); anything else is not supported (6). */
function applyCall(s: Step, datagram: SpineDatagram): ResultData {
  const { header } = datagram;
  const target = addressedFeature(s, header);
  if (isResult(target)) return target;
  const requester = senderOf(s, header);
  for (const cmd of datagram.payload.cmd) {
    const name = cmd.data?.name;
    const fn = name === undefined ? undefined : supportedFunction(target.feature, name);
    if (name === undefined || fn === undefined || target.feature.type !== 'NodeManagement') {
      return fail(
        ErrorNumber.CommandNotSupported,
        name === undefined ? 'the cmd holds no known function' : `${name} cannot be called here`,
      );
    }
    const value: unknown = cmd.data?.value;
    let outcome: ResultData;
    switch (name) {
      case 'nodeManagementSubscriptionRequestCall':
        outcome = addPeerRelation(s, 'subscription', value, requester);
        break;
      case 'nodeManagementBindingRequestCall':
        outcome = addPeerRelation(s, 'binding', value, requester);
        break;
      case 'nodeManagementSubscriptionDeleteCall':
        outcome = removePeerRelation(s, 'subscription', value, requester);
        break;
      case 'nodeManagementBindingDeleteCall':
        outcome = removePeerRelation(s, 'binding', value, requester);
        break;
      default:
        outcome = fail(ErrorNumber.CommandNotSupported, `${name} is not a call`);
    }
    if (outcome.errorNumber !== 0) return outcome;
  }
  return OK;
}

/**
 * A subscription or binding request (§5.5, §5.6). Our server feature must exist (and be of the
 * announced type); bindings to NodeManagement are refused (7, TC_SPINE_BIND_001), as is a second
 * client for a bound feature (7, one binding per server feature as spine-go). The client feature
 * must belong to the requester and, once its discovery is known, exist there; its type is not
 * checked (TC_SPINE_RTS_001). A repeated request is accepted without a second entry
 * (checklist item 33).
 */
function addPeerRelation(
  s: Step,
  kind: RelationKind,
  data: unknown,
  requester: FeatureAddress,
): ResultData {
  const read = readRelationRequest(kind, data);
  if (!read.ok) return fail(ErrorNumber.GeneralError, read.error);
  const { request } = read;
  if (request.server.device !== undefined && request.server.device !== s.deviceAddress) {
    return fail(ErrorNumber.GeneralError, 'serverAddress names another device');
  }
  // readRelationRequest only returns addresses with a feature; checked again for the type system.
  const serverFeatureId = request.server.feature;
  const clientFeatureId = request.client.feature;
  if (serverFeatureId === undefined || clientFeatureId === undefined) {
    return fail(ErrorNumber.GeneralError, 'an address names no feature');
  }
  const serverFeature = findFeature(s.local, request.server.entity ?? [], serverFeatureId);
  if (serverFeature === undefined) {
    return fail(ErrorNumber.GeneralError, 'serverAddress names no feature of this device');
  }
  if (kind === 'binding' && serverFeature.role === 'special') {
    return fail(ErrorNumber.CommandRejected, 'NodeManagement cannot be bound');
  }
  if (serverFeature.role !== 'server' && serverFeature.role !== 'special') {
    return fail(ErrorNumber.GeneralError, 'serverAddress is not a server feature');
  }
  if (request.serverFeatureType !== undefined && request.serverFeatureType !== serverFeature.type) {
    return fail(
      ErrorNumber.GeneralError,
      `serverFeatureType ${request.serverFeatureType} is not the feature's type ${serverFeature.type}`,
    );
  }
  const known = s.remote.device;
  const clientDevice = request.client.device ?? requester.device ?? known?.device;
  if (known?.device !== undefined && clientDevice !== known.device) {
    return fail(ErrorNumber.GeneralError, 'clientAddress names another device');
  }
  if (
    known !== undefined &&
    findFeature(known, request.client.entity ?? [], clientFeatureId) === undefined
  ) {
    return fail(ErrorNumber.GeneralError, 'clientAddress names no feature of the requester');
  }
  const client: FeatureAddress =
    clientDevice === undefined ? request.client : { ...request.client, device: clientDevice };
  const server: FeatureAddress = { ...request.server, device: s.deviceAddress };
  const table = kind === 'subscription' ? s.draft.subscriptions : s.draft.bindings;
  if (table.some((e) => sameFeature(e.client, client) && sameFeature(e.server, server))) return OK;
  if (kind === 'binding' && table.some((e) => sameFeature(e.server, server))) {
    return fail(ErrorNumber.CommandRejected, 'the server feature already has a binding');
  }
  const base = { client, server, serverFeatureType: serverFeature.type };
  if (kind === 'subscription') {
    const entry: RelationEntry = { id: s.draft.nextSubscriptionId, ...base };
    s.draft.nextSubscriptionId += 1;
    s.draft.subscriptions = [...table, entry];
    s.emit({ kind: 'peerRelationAdded', relation: kind, entry });
    if (supportedFunction(serverFeature, HEARTBEAT) !== undefined) {
      // §8.2: the first heartbeat right after the subscription (checklist item 44).
      s.after.push(() => startHeartbeatFor(s, entry));
    }
  } else {
    const entry: RelationEntry = { id: s.draft.nextBindingId, ...base };
    s.draft.nextBindingId += 1;
    s.draft.bindings = [...table, entry];
    s.emit({ kind: 'peerRelationAdded', relation: kind, entry });
  }
  return OK;
}

/**
 * A subscription or binding delete (§5.5): entries matching every given part (id, client,
 * server; a client address without device is the requester's) are removed. Deleting what does
 * not exist succeeds with nothing removed (SPINE-TS-SUBS-02: no harm, checklist item 25).
 */
function removePeerRelation(
  s: Step,
  kind: RelationKind,
  data: unknown,
  requester: FeatureAddress,
): ResultData {
  const read = readRelationDelete(kind, data);
  if (!read.ok) return fail(ErrorNumber.GeneralError, read.error);
  let target = read.delete;
  const requesterDevice = requester.device ?? s.remote.device?.device;
  if (target.client !== undefined && target.client.device === undefined && requesterDevice) {
    target = { ...target, client: { ...target.client, device: requesterDevice } };
  }
  dropPeerRelations(s, kind, (entry) => relationMatches(entry, target));
  return OK;
}

/** Removes matching entries of the partner's subscriptions or bindings and reports them. */
function dropPeerRelations(
  s: Step,
  kind: RelationKind,
  matches: (entry: RelationEntry) => boolean,
): void {
  const table = kind === 'subscription' ? s.draft.subscriptions : s.draft.bindings;
  const removed = table.filter(matches);
  if (removed.length === 0) return;
  const kept = table.filter((entry) => !matches(entry));
  if (kind === 'subscription') s.draft.subscriptions = kept;
  else s.draft.bindings = kept;
  s.emit({ kind: 'peerRelationRemoved', relation: kind, entries: removed });
  if (kind === 'subscription' && s.draft.heartbeatRunning && heartbeatSubscribers(s).length === 0) {
    s.cancelTimer(HEARTBEAT_SEND_TIMER);
    s.draft.heartbeatRunning = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Our heartbeat (§8.1, §8.2)

function heartbeatIntervalMs(s: Step): number {
  // §8.2: send at half the announced timeout (pitfall 4: at the timeout is too late).
  return Math.max(1, Math.floor(s.draft.config.heartbeatTimeoutMs / 2));
}

/** `deviceDiagnosisHeartbeatData` as we notify it (§8.1). */
function heartbeatData(s: Step): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (s.timestamp !== undefined) data.timestamp = s.timestamp;
  if (s.draft.heartbeatCounter > 0) data.heartbeatCounter = s.draft.heartbeatCounter;
  data.heartbeatTimeout = formatDurationSeconds(s.draft.config.heartbeatTimeoutMs);
  return data;
}

/** The partner's subscriptions to a heartbeat feature of ours. */
function heartbeatSubscribers(s: Step): RelationEntry[] {
  return s.draft.subscriptions.filter((entry) => {
    const feature = findFeature(s.local, entry.server.entity ?? [], entry.server.feature ?? -1);
    return feature !== undefined && supportedFunction(feature, HEARTBEAT) !== undefined;
  });
}

function sendHeartbeat(s: Step, to: readonly RelationEntry[]): void {
  const value = heartbeatData(s);
  for (const entry of to) {
    s.request({
      classifier: 'notify',
      source: entry.server,
      destination: entry.client,
      cmd: { data: { name: HEARTBEAT, value } },
    });
  }
}

/** A new heartbeat subscriber gets one at once; the timer runs while anyone is subscribed. */
function startHeartbeatFor(s: Step, entry: RelationEntry): void {
  if (!s.draft.subscriptions.includes(entry)) return;
  s.draft.heartbeatCounter += 1;
  sendHeartbeat(s, [entry]);
  if (!s.draft.heartbeatRunning) {
    s.draft.heartbeatRunning = true;
    s.startTimer(HEARTBEAT_SEND_TIMER, heartbeatIntervalMs(s));
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

// ---------------------------------------------------------------------------------------------
// Our client side: the partner's device

function tagOf(request: correlation.PendingRequest): Purpose | undefined {
  return request.tag as Purpose | undefined;
}

function sendDiscoveryRead(s: Step): void {
  s.draft.discoveryAttempts += 1;
  // §2.5/§7.1: from our NodeManagement to `[0]:0` without device (not known yet).
  s.request({
    classifier: 'read',
    source: localNodeManagement(s),
    destination: { entity: [0], feature: NODE_MANAGEMENT_FEATURE },
    cmd: { data: { name: DISCOVERY, value: {} } },
    tag: { purpose: 'discovery' } satisfies Purpose,
  });
}

function onTimedOut(s: Step, request: correlation.PendingRequest): void {
  const tag = tagOf(request);
  if (tag?.purpose === 'discovery' && s.remote.device === undefined) {
    if (s.draft.discoveryAttempts < s.draft.config.discoveryAttempts) {
      sendDiscoveryRead(s);
      return;
    }
  }
  if (tag?.purpose === 'relation') settleRelation(s, tag.relation, 'refused', undefined);
  s.emit({
    kind: 'requestFailed',
    function: request.functionName,
    destination: request.destination,
    reason: 'timedOut',
  });
}

function onResult(s: Step, request: correlation.PendingRequest, result: ResultData): void {
  const tag = tagOf(request);
  if (tag?.purpose === 'relation') {
    settleRelation(s, tag.relation, result.errorNumber === 0 ? 'active' : 'refused', result);
  }
  if (result.errorNumber !== 0) {
    s.emit({
      kind: 'requestFailed',
      function: request.functionName,
      destination: request.destination,
      reason: 'result',
      result,
    });
  }
}

function settleRelation(
  s: Step,
  relation: OurRelation,
  status: OurRelation['status'],
  result: ResultData | undefined,
): void {
  const index = s.remote.relations.findIndex(
    (r) =>
      r.kind === relation.kind &&
      sameFeature(r.client, relation.client) &&
      sameFeature(r.server, relation.server),
  );
  const settled: OurRelation = { ...relation, status };
  if (index >= 0) {
    s.remote.relations = s.remote.relations.map((r, i) => (i === index ? settled : r));
  }
  s.emit({ kind: 'relationResult', relation: settled, result });
}

/** Subscribes (or binds) one of our client features to a partner's server feature (§5.5, §5.6). */
function relate(
  s: Step,
  kind: RelationKind,
  client: FeatureAddress,
  server: FeatureAddress,
  serverFeatureType: string,
): void {
  const existing = s.remote.relations.find(
    (r) => r.kind === kind && sameFeature(r.client, client) && sameFeature(r.server, server),
  );
  if (existing !== undefined && existing.status !== 'refused') return;
  const relation: OurRelation = { kind, client, server, serverFeatureType, status: 'pending' };
  s.remote.relations = [...s.remote.relations.filter((r) => r !== existing), relation];
  const device = s.remote.device?.device;
  // §5.5: sent with ackRequest from our NodeManagement to the partner's.
  s.request({
    classifier: 'call',
    source: localNodeManagement(s),
    destination:
      device === undefined
        ? { entity: [0], feature: NODE_MANAGEMENT_FEATURE }
        : { device, entity: [0], feature: NODE_MANAGEMENT_FEATURE },
    cmd: {
      data: {
        name:
          kind === 'subscription'
            ? 'nodeManagementSubscriptionRequestCall'
            : 'nodeManagementBindingRequestCall',
        value: buildRelationRequest(kind, { client, server, serverFeatureType }),
      },
    },
    ackRequest: true,
    tag: { purpose: 'relation', relation } satisfies Purpose,
  });
}

/** Reads one function of a partner's feature from one of ours (reply handled in receiveData). */
function readRemote(s: Step, source: FeatureAddress, destination: FeatureAddress, name: string) {
  const feature =
    s.remote.device === undefined
      ? undefined
      : findFeature(s.remote.device, destination.entity ?? [], destination.feature ?? -1);
  const delay = feature?.maxResponseDelay && parseDurationMs(feature.maxResponseDelay);
  s.request({
    classifier: 'read',
    source,
    destination,
    cmd: { data: { name, value: {} } },
    tag: { purpose: name === USE_CASES ? 'useCases' : 'read' } satisfies Purpose,
    ...(typeof delay === 'number' ? { maxResponseDelayMs: delay } : {}),
  });
}

/** True if a partner's feature announces a function as readable (eebus-go checks it, §4.5). */
function readable(feature: FeatureDescription, name: string): boolean {
  return supportedFunction(feature, name)?.read === true;
}

/**
 * After the partner's discovery (§7.1 t≈RTT, §7.4 step 2, checklist item 24): subscribe to its
 * NodeManagement, read its use case data, its manufacturer data, and watch its heartbeat.
 */
function afterDiscovery(s: Step, device: DeviceDescription): void {
  const localNm = localNodeManagement(s);
  const theirNm = remoteAddress(device, [0], NODE_MANAGEMENT_FEATURE);
  relate(s, 'subscription', localNm, theirNm, 'NodeManagement');
  const nm = findFeature(device, [0], NODE_MANAGEMENT_FEATURE);
  // Vaillant's aroTHERM offers no use case data at all (§5.4, pitfall 1); an NM without a
  // function list is read anyway.
  if (nm !== undefined && (nm.functions.length === 0 || readable(nm, USE_CASES))) {
    readRemote(s, localNm, theirNm, USE_CASES);
  } else {
    s.remote.useCases = [];
    s.emit({ kind: 'useCases', useCases: [] });
  }
  readManufacturer(s, device);
  watchHeartbeat(s);
}

/** Reads the partner's manufacturer data (§9.1), preferring the DeviceInformation entity. */
function readManufacturer(s: Step, device: DeviceDescription): void {
  const servers = featuresOf(device, 'DeviceClassification', 'server').filter(({ feature }) =>
    readable(feature, MANUFACTURER),
  );
  const chosen = servers.find(({ entity }) => sameEntity(entity.entity, [0])) ?? servers[0];
  if (chosen === undefined) return;
  const client = localFeatures(s, 'DeviceClassification', 'client')[0]?.address;
  readRemote(
    s,
    client ?? localNodeManagement(s),
    remoteAddress(device, chosen.entity.entity, chosen.feature.feature),
    MANUFACTURER,
  );
}

/**
 * Subscribes to the partner's heartbeat and starts watching it (§8.3), if we have a
 * DeviceDiagnosis client and the partner a DeviceDiagnosis server with heartbeat data. The first
 * such server in entity order is watched; the connection start counts as the last heartbeat
 * (pitfall 7).
 */
function watchHeartbeat(s: Step): void {
  const device = s.remote.device;
  if (device === undefined || s.remote.heartbeat !== undefined) return;
  const client = localFeatures(s, 'DeviceDiagnosis', 'client')[0]?.address;
  if (client === undefined) return;
  const server = featuresOf(device, 'DeviceDiagnosis', 'server').find(
    ({ feature }) => supportedFunction(feature, HEARTBEAT) !== undefined,
  );
  if (server === undefined) return;
  const address = remoteAddress(device, server.entity.entity, server.feature.feature);
  relate(s, 'subscription', client, address, 'DeviceDiagnosis');
  if (readable(server.feature, HEARTBEAT)) readRemote(s, client, address, HEARTBEAT);
  const lossMs = s.draft.config.heartbeatLossMs ?? DEFAULT_HEARTBEAT_LOSS_MS;
  s.remote.heartbeat = { feature: address, lastSeenAt: s.now, lossMs, lost: false };
  s.startTimer(HEARTBEAT_WATCH_TIMER, lossMs);
}

/** A heartbeat of the watched feature (§8.3): fresh if its counter moved (or it has none). */
function onRemoteHeartbeat(s: Step, source: FeatureAddress, data: unknown): void {
  const watch = s.remote.heartbeat;
  if (watch === undefined || !sameFeature(watch.feature, source) || !isObject(data)) return;
  const counterValue = own(data, 'heartbeatCounter');
  const counter =
    typeof counterValue === 'number' || typeof counterValue === 'bigint'
      ? String(counterValue)
      : undefined;
  if (counter !== undefined && counter === watch.counter) return;
  const timeout = own(data, 'heartbeatTimeout');
  const announcedTimeoutMs = typeof timeout === 'string' ? parseDurationMs(timeout) : undefined;
  const lossMs =
    s.draft.config.heartbeatLossMs ??
    (announcedTimeoutMs !== undefined && announcedTimeoutMs > 0
      ? 2 * announcedTimeoutMs
      : DEFAULT_HEARTBEAT_LOSS_MS);
  const next: Mutable<HeartbeatWatch> = {
    feature: watch.feature,
    lastSeenAt: s.now,
    lossMs,
    lost: false,
  };
  if (announcedTimeoutMs !== undefined) next.announcedTimeoutMs = announcedTimeoutMs;
  if (counter !== undefined) next.counter = counter;
  const timestamp = own(data, 'timestamp');
  if (typeof timestamp === 'string') next.remoteTimestamp = timestamp;
  s.remote.heartbeat = next;
  if (watch.lost) s.emit({ kind: 'heartbeatRestored', feature: watch.feature });
  s.startTimer(HEARTBEAT_WATCH_TIMER, lossMs);
}

/**
 * Data from the partner (reply or notify; §3.2): NodeManagement discovery and use case data
 * update the device model, everything else is merged into the stored data of the sending
 * feature. Returns the outcome for the result rules of §6.2.
 */
function receiveData(s: Step, datagram: SpineDatagram, mode: 'reply' | 'notify'): ResultData {
  const source = senderOf(s, datagram.header);
  for (const cmd of datagram.payload.cmd) {
    const outcome = receiveCmd(s, source, cmd, mode);
    if (outcome.errorNumber !== 0) return outcome;
  }
  return OK;
}

function receiveCmd(
  s: Step,
  source: FeatureAddress,
  cmd: SpineCmd,
  mode: MergeMode & ('reply' | 'notify'),
): ResultData {
  const name = cmd.data?.name;
  if (name === undefined || cmd.data === undefined) {
    return fail(ErrorNumber.CommandNotSupported, 'the cmd holds no known function');
  }
  if (isNodeManagement(source) && name === DISCOVERY) return receiveDiscovery(s, cmd);
  if (isNodeManagement(source) && name === USE_CASES) {
    const parsed = parseUseCaseData(cmd.data.value);
    for (const warning of parsed.warnings)
      s.emit({ kind: 'warning', message: `use case data: ${warning}` });
    s.remote.useCases = parsed.useCases;
    s.emit({ kind: 'useCases', useCases: parsed.useCases });
    return OK;
  }
  if (source.entity === undefined || source.feature === undefined) {
    return fail(ErrorNumber.GeneralError, 'data from a source without entity and feature');
  }
  const key = featureKey(source.entity, source.feature);
  const stored = s.remote.data.get(key)?.get(name);
  const merged = mergeFunctionData(stored, cmd, mode);
  if (!merged.ok) return { errorNumber: merged.errorNumber, description: merged.description };
  for (const warning of merged.warnings) s.emit({ kind: 'warning', message: warning });
  const table = new Map(s.remote.data);
  const functions = new Map(table.get(key) ?? []);
  functions.set(name, merged.data);
  table.set(key, functions);
  s.remote.data = table;
  s.emit({
    kind: 'dataUpdated',
    feature: source,
    function: name,
    data: merged.data,
    classifier: mode,
  });
  if (name === HEARTBEAT) onRemoteHeartbeat(s, source, merged.data);
  return OK;
}

/**
 * The partner's discovery data (§5.1 reply, §5.3 notify): the first full one builds the model and
 * starts the rest of the sequence; later ones are applied as partial or full updates.
 */
function receiveDiscovery(s: Step, cmd: SpineCmd): ResultData {
  const value = cmd.data?.value;
  const partial = cmd.filter?.some((f) => f.cmdControl === 'partial') ?? false;
  const known = s.remote.device;
  if (known === undefined) {
    if (partial) {
      s.emit({
        kind: 'warning',
        message: 'partial discovery notify before the discovery; ignored',
      });
      return OK;
    }
    const parsed = parseDetailedDiscovery(value);
    if (!parsed.ok) return fail(ErrorNumber.GeneralError, parsed.error);
    s.remote.device = parsed.device;
    s.emit({ kind: 'discovered', device: parsed.device, warnings: parsed.warnings });
    afterDiscovery(s, parsed.device);
    return OK;
  }
  const applied = applyDiscoveryNotify(known, value, partial);
  if (!applied.ok) return fail(ErrorNumber.GeneralError, applied.error);
  const { change } = applied;
  s.remote.device = change.device;
  for (const warning of change.warnings)
    s.emit({ kind: 'warning', message: `discovery: ${warning}` });
  if (change.added.length > 0 || change.removed.length > 0) {
    s.emit({
      kind: 'discoveryChanged',
      device: change.device,
      added: change.added,
      removed: change.removed,
    });
  }
  if (change.removed.length > 0) forgetEntities(s, change.removed);
  watchHeartbeat(s);
  return OK;
}

/**
 * The partner's entities are gone (§5.3, checklist items 28, 35): their cached data, our
 * relations to them, their subscriptions and bindings to us, and the heartbeat watch on them.
 */
function forgetEntities(s: Step, removed: ReadonlyArray<readonly number[]>): void {
  const gone = new Set(removed.map((entity) => entityKey(entity)));
  const inGone = (address: FeatureAddress) =>
    address.entity !== undefined && gone.has(entityKey(address.entity));
  const data = new Map(s.remote.data);
  for (const key of data.keys()) {
    if (gone.has(key.slice(0, key.lastIndexOf(':')))) data.delete(key);
  }
  s.remote.data = data;
  s.remote.relations = s.remote.relations.filter((r) => !inGone(r.server));
  dropPeerRelations(s, 'subscription', (entry) => inGone(entry.client));
  dropPeerRelations(s, 'binding', (entry) => inGone(entry.client));
  const watch = s.remote.heartbeat;
  if (watch !== undefined && inGone(watch.feature)) {
    if (!watch.lost) s.cancelTimer(HEARTBEAT_WATCH_TIMER);
    s.remote.heartbeat = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Application requests

/** A local client feature for talking to a partner's feature of `type`, else our NodeManagement. */
function clientFor(s: Step, destination: FeatureAddress): FeatureAddress {
  const feature =
    s.remote.device === undefined
      ? undefined
      : findFeature(s.remote.device, destination.entity ?? [], destination.feature ?? -1);
  const client =
    feature === undefined ? undefined : localFeatures(s, feature.type, 'client')[0]?.address;
  return client ?? localNodeManagement(s);
}

function appRead(s: Step, destination: FeatureAddress, name: string): void {
  const device = s.remote.device?.device;
  const full =
    destination.device === undefined && device !== undefined
      ? { device, ...destination }
      : destination;
  readRemote(s, clientFor(s, full), full, name);
}

function appSubscribe(s: Step, server: FeatureAddress, kind: RelationKind): void {
  const device = s.remote.device;
  const feature =
    device === undefined
      ? undefined
      : findFeature(device, server.entity ?? [], server.feature ?? -1);
  if (device === undefined || feature === undefined) {
    s.emit({ kind: 'warning', message: `${kind} refused: the partner has no such feature` });
    return;
  }
  const full = remoteAddress(device, server.entity ?? [], server.feature ?? 0);
  relate(s, kind, clientFor(s, full), full, feature.type);
}
