/**
 * Our server side of a SPINE session (see session.ts): answering the partner's reads, writes and
 * calls on our features, and the partner's subscriptions and bindings to us
 * (§5.1, §5.4–§5.7, §6.2, §6.3).
 */
import { buildDetailedDiscoveryData } from '../device/local.js';
import { mergeFunctionData } from '../merge/merge.js';
import { featureKey, sameFeature, type FeatureAddress } from '../model/address.js';
import {
  ErrorNumber,
  type ResultData,
  type SpineCmd,
  type SpineDatagram,
  type SpineHeader,
} from '../model/datagram.js';
import { findFeature, supportedFunction } from '../model/device.js';
import {
  buildRelationData,
  readRelationDelete,
  readRelationRequest,
  relationMatches,
  type RelationEntry,
  type RelationKind,
} from '../node-management/relations.js';
import { buildUseCaseData } from '../node-management/use-cases.js';
import { HEARTBEAT_SEND_TIMER } from './types.js';
import type { Step } from './step.js';
import {
  DISCOVERY,
  USE_CASES,
  HEARTBEAT,
  DIAGNOSIS_STATE,
  OK,
  fail,
  type LocalFeature,
  senderOf,
} from './step.js';
import { heartbeatData, heartbeatSubscribers, startHeartbeatFor } from './heartbeat.js';

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

/** Answers a read with one reply (one cmd per read cmd) or one error result (§6.2 rule 1). */
export function answerRead(s: Step, datagram: SpineDatagram): void {
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
export function applyWrite(s: Step, datagram: SpineDatagram): ResultData {
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
export function applyCall(s: Step, datagram: SpineDatagram): ResultData {
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
export function dropPeerRelations(
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
