/**
 * Our client side of a SPINE session (see session.ts): the partner's device model from its
 * discovery, our subscriptions and bindings to it, reads of its data and what the application
 * asks of it (§5.1, §5.3–§5.6, §7.1, §7.4, §9.1).
 */
import type * as correlation from '../correlation/machine.js';
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
} from '../model/datagram.js';
import {
  featuresOf,
  findFeature,
  supportedFunction,
  type DeviceDescription,
  type FeatureDescription,
} from '../model/device.js';
import { buildRelationRequest, type RelationKind } from '../node-management/relations.js';
import { parseUseCaseData } from '../node-management/use-cases.js';
import { parseDurationMs } from './duration.js';
import { DEFAULT_HEARTBEAT_LOSS_MS, HEARTBEAT_WATCH_TIMER, type OurRelation } from './types.js';
import type { Step } from './step.js';
import {
  DISCOVERY,
  USE_CASES,
  HEARTBEAT,
  MANUFACTURER,
  type Purpose,
  OK,
  fail,
  localNodeManagement,
  isNodeManagement,
  localFeatures,
  remoteAddress,
  senderOf,
} from './step.js';
import { dropPeerRelations } from './serve.js';
import { onRemoteHeartbeat } from './heartbeat.js';

function tagOf(request: correlation.PendingRequest): Purpose | undefined {
  return request.tag as Purpose | undefined;
}

export function sendDiscoveryRead(s: Step): void {
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

export function onTimedOut(s: Step, request: correlation.PendingRequest): void {
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

export function onResult(s: Step, request: correlation.PendingRequest, result: ResultData): void {
  const tag = tagOf(request);
  if (tag?.purpose === 'relation') {
    settleRelation(s, tag.relation, result.errorNumber === 0 ? 'active' : 'refused', result);
  }
  if (tag?.purpose === 'write' && result.errorNumber === 0) {
    s.emit({ kind: 'written', function: request.functionName, destination: request.destination });
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
  const feature = partnerFeature(s, destination)?.feature;
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

/**
 * Data from the partner (reply or notify; §3.2): NodeManagement discovery and use case data
 * update the device model, everything else is merged into the stored data of the sending
 * feature. Returns the outcome for the result rules of §6.2.
 */
export function receiveData(
  s: Step,
  datagram: SpineDatagram,
  mode: 'reply' | 'notify',
): ResultData {
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

/**
 * A feature of the partner's discovered device at `address`, with its full address (device
 * filled in); undefined before its discovery or when it has no such feature.
 */
function partnerFeature(
  s: Step,
  address: FeatureAddress,
): { feature: FeatureDescription; address: FeatureAddress } | undefined {
  const device = s.remote.device;
  const entity = address.entity ?? [];
  const feature =
    device === undefined ? undefined : findFeature(device, entity, address.feature ?? -1);
  if (device === undefined || feature === undefined) return undefined;
  return { feature, address: remoteAddress(device, entity, feature.feature) };
}

/** Our client feature for talking to this partner feature (of its type), else our NodeManagement. */
function clientFor(s: Step, feature: FeatureDescription | undefined): FeatureAddress {
  const client =
    feature === undefined ? undefined : localFeatures(s, feature.type, 'client')[0]?.address;
  return client ?? localNodeManagement(s);
}

export function appRead(s: Step, destination: FeatureAddress, name: string): void {
  const device = s.remote.device?.device;
  const full =
    destination.device === undefined && device !== undefined
      ? { device, ...destination }
      : destination;
  readRemote(s, clientFor(s, partnerFeature(s, full)?.feature), full, name);
}

export function appSubscribe(s: Step, server: FeatureAddress, kind: RelationKind): void {
  const found = partnerFeature(s, server);
  if (found === undefined) {
    s.emit({ kind: 'warning', message: `${kind} refused: the partner has no such feature` });
    return;
  }
  relate(s, kind, clientFor(s, found.feature), found.address, found.feature.type);
}

/**
 * Writes function data to a partner's server feature (§3.2, §5.6), from our client feature of
 * its type (else our NodeManagement), with ackRequest so the outcome is known: `written` on a
 * result 0, `requestFailed` otherwise (error 9 when we are not bound: bind first, SPINE_PS 7.3.5).
 * `partial` sends the data with `cmdControl.partial` (§3.1): only the given items change.
 * Refused here, without sending, when the partner's discovery does not announce the function as
 * writable (or, for `partial`, partially writable: `writePartial`, §4.5) on that feature.
 */
export function appWrite(
  s: Step,
  destination: FeatureAddress,
  name: string,
  data: unknown,
  partial: boolean,
): void {
  const found = partnerFeature(s, destination);
  if (found === undefined) {
    s.emit({
      kind: 'warning',
      message: `write of ${name} refused: the partner has no such feature`,
    });
    return;
  }
  const announced = supportedFunction(found.feature, name);
  if (announced?.write !== true || (partial && !announced.writePartial)) {
    s.emit({
      kind: 'warning',
      message: `write of ${name} refused: the partner does not announce it ${partial ? 'partially ' : ''}writable there`,
    });
    return;
  }
  s.request({
    classifier: 'write',
    source: clientFor(s, found.feature),
    destination: found.address,
    cmd: {
      ...(partial ? { function: name, filter: [{ cmdControl: 'partial' }] } : {}),
      data: { name, value: data },
    },
    ackRequest: true,
    tag: { purpose: 'write' } satisfies Purpose,
  });
}
