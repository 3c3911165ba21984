/**
 * Subscriptions and bindings held by a server (spine-protocol.md §5.5 "Subscriptions", §5.6
 * "Bindings"): reading the request and delete calls, the table entries, and the
 * `nodeManagementSubscriptionData` / `nodeManagementBindingData` lists.
 *
 * Both relations have the same shape (client feature, server feature, server feature type), so
 * one set of functions serves both; `RelationKind` picks the element names.
 */
import { asList, asObject, isUint, own, stringOf } from '../codec/values.js';
import { sameFeature, type FeatureAddress } from '../model/address.js';

/** Which relation (§5.5 subscription = "notify me", §5.6 binding = "let me write"). */
export type RelationKind = 'subscription' | 'binding';

/** One entry of our subscription or binding table (`subscriptionEntry` / `bindingEntry`). */
export interface RelationEntry {
  /** `subscriptionId` / `bindingId`, from one counter per table, starting at 1 (spine-go). */
  readonly id: number;
  /** The partner's client feature (with its device address). */
  readonly client: FeatureAddress;
  /** Our server feature (with our device address). */
  readonly server: FeatureAddress;
  readonly serverFeatureType?: string;
}

/** A request call's content (`subscriptionRequest` / `bindingRequest`). */
export interface RelationRequest {
  readonly client: FeatureAddress;
  readonly server: FeatureAddress;
  readonly serverFeatureType?: string;
}

/** A delete call's content; every part optional, at least one present. */
export interface RelationDelete {
  readonly id?: number;
  readonly client?: FeatureAddress;
  readonly server?: FeatureAddress;
}

/** The function names of each relation (§5.5, §5.6). */
export const RELATION_FUNCTIONS = {
  subscription: {
    request: 'nodeManagementSubscriptionRequestCall',
    delete: 'nodeManagementSubscriptionDeleteCall',
    data: 'nodeManagementSubscriptionData',
    requestElement: 'subscriptionRequest',
    deleteElement: 'subscriptionDelete',
    entry: 'subscriptionEntry',
    id: 'subscriptionId',
  },
  binding: {
    request: 'nodeManagementBindingRequestCall',
    delete: 'nodeManagementBindingDeleteCall',
    data: 'nodeManagementBindingData',
    requestElement: 'bindingRequest',
    deleteElement: 'bindingDelete',
    entry: 'bindingEntry',
    id: 'bindingId',
  },
} as const;

/** A feature address with entity path and feature number, or undefined (§2.1). */
export function readFeatureAddress(value: unknown): FeatureAddress | undefined {
  const object = asObject(value);
  if (object === undefined) return undefined;
  const entityValue = own(object, 'entity');
  const entity = asList(entityValue);
  const feature = own(object, 'feature');
  if (entityValue === undefined || !entity.every((n) => isUint(n)) || !isUint(feature)) {
    return undefined;
  }
  const device = stringOf(object, 'device');
  const address: FeatureAddress = { entity, feature };
  return device === undefined ? address : { device, ...address };
}

/**
 * Reads a request call (`{subscriptionRequest: {clientAddress, serverAddress,
 * serverFeatureType}}`, §5.5/§5.6). Receivers use `clientAddress` from the payload, not the
 * header source (§5.5: the Wallbox sends from its client feature, spine-go from NodeManagement).
 */
export function readRelationRequest(
  kind: RelationKind,
  data: unknown,
): { ok: true; request: RelationRequest } | { ok: false; error: string } {
  const names = RELATION_FUNCTIONS[kind];
  const root = asObject(data);
  const body = asObject(root && own(root, names.requestElement));
  if (body === undefined) return { ok: false, error: `${names.requestElement} is missing` };
  const client = readFeatureAddress(own(body, 'clientAddress'));
  const server = readFeatureAddress(own(body, 'serverAddress'));
  if (client === undefined) return { ok: false, error: 'no valid clientAddress' };
  if (server === undefined) return { ok: false, error: 'no valid serverAddress' };
  const serverFeatureType = stringOf(body, 'serverFeatureType');
  return {
    ok: true,
    request:
      serverFeatureType === undefined ? { client, server } : { client, server, serverFeatureType },
  };
}

/** Reads a delete call (`{subscriptionDelete: {subscriptionId?, clientAddress?, serverAddress?}}`). */
export function readRelationDelete(
  kind: RelationKind,
  data: unknown,
): { ok: true; delete: RelationDelete } | { ok: false; error: string } {
  const names = RELATION_FUNCTIONS[kind];
  const root = asObject(data);
  const body = asObject(root && own(root, names.deleteElement));
  if (body === undefined) return { ok: false, error: `${names.deleteElement} is missing` };
  const out: { id?: number; client?: FeatureAddress; server?: FeatureAddress } = {};
  const id = own(body, names.id);
  if (isUint(id)) out.id = id;
  const client = readFeatureAddress(own(body, 'clientAddress'));
  if (client !== undefined) out.client = client;
  const server = readFeatureAddress(own(body, 'serverAddress'));
  if (server !== undefined) out.server = server;
  if (out.id === undefined && out.client === undefined && out.server === undefined) {
    return { ok: false, error: `${names.deleteElement} names no ${names.id}, client or server` };
  }
  return { ok: true, delete: out };
}

/** True if an entry is the one a request or delete names (devices compared only when both given). */
export function relationMatches(entry: RelationEntry, target: RelationDelete): boolean {
  if (target.id !== undefined && entry.id !== target.id) return false;
  if (target.client !== undefined && !sameFeature(entry.client, target.client)) return false;
  if (target.server !== undefined && !sameFeature(entry.server, target.server)) return false;
  return true;
}

/** A FeatureAddress as plain data in XSD order (device, entity, feature). */
export function plainFeatureAddress(address: FeatureAddress): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (address.device !== undefined) out.device = address.device;
  if (address.entity !== undefined) out.entity = [...address.entity];
  if (address.feature !== undefined) out.feature = address.feature;
  return out;
}

/** `nodeManagementSubscriptionData` / `nodeManagementBindingData` of a table (§5.5, §5.6). */
export function buildRelationData(
  kind: RelationKind,
  entries: readonly RelationEntry[],
): Record<string, unknown> {
  const names = RELATION_FUNCTIONS[kind];
  return {
    [names.entry]: entries.map((entry) => ({
      [names.id]: entry.id,
      clientAddress: plainFeatureAddress(entry.client),
      serverAddress: plainFeatureAddress(entry.server),
    })),
  };
}

/** The call data of a request we send (§5.5 example). */
export function buildRelationRequest(
  kind: RelationKind,
  request: RelationRequest,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    clientAddress: plainFeatureAddress(request.client),
    serverAddress: plainFeatureAddress(request.server),
  };
  if (request.serverFeatureType !== undefined) body.serverFeatureType = request.serverFeatureType;
  return { [RELATION_FUNCTIONS[kind].requestElement]: body };
}

/** The call data of a delete we send (§5.5: identified by client and server address). */
export function buildRelationDelete(
  kind: RelationKind,
  target: { client: FeatureAddress; server: FeatureAddress },
): Record<string, unknown> {
  return {
    [RELATION_FUNCTIONS[kind].deleteElement]: {
      clientAddress: plainFeatureAddress(target.client),
      serverAddress: plainFeatureAddress(target.server),
    },
  };
}
