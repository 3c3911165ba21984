/**
 * SPINE datagram encoding: the typed model of ../model/datagram.ts → the SHIP data payload
 * `{"datagram": …}` in EEBUS-JSON (the wire) or plain JSON (spine-protocol.md §1, §2.1, §3.1).
 * It writes the XSD element order (spine-go struct field order, §1) and, for function data, the
 * key order of the plain object, which is the received order for decoded data.
 */
import { toEebusJson } from '../../ship/codec/eebus-json.js';
import { escapeLikeGo } from '../../ship/codec/json-text.js';
import type { FeatureAddress } from '../model/address.js';
import type {
  MsgCounter,
  NamedValue,
  SpineCmd,
  SpineDatagram,
  SpineHeader,
} from '../model/datagram.js';
import { stringifyJson } from './json-lossless.js';
import { setOwn } from './values.js';

/** Which JSON form {@link encodeDatagram} produces. */
export type DatagramForm = 'eebus' | 'plain';

/** A counter as JSON can carry it: a number while exact, a bigint beyond 2^53 (§2.3). */
function counterValue(counter: MsgCounter): number | bigint {
  return counter <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(counter) : counter;
}

/** A FeatureAddress in XSD order device, entity, feature (spine-protocol.md §2.1). */
function plainAddress(address: FeatureAddress): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (address.device !== undefined) out.device = address.device;
  if (address.entity !== undefined) out.entity = [...address.entity];
  if (address.feature !== undefined) out.feature = address.feature;
  return out;
}

/** Writes a named element (function data, selectors, elements) under its own name (§2.1, §3.1). */
function plainNamed(target: Record<string, unknown>, named: NamedValue | undefined): void {
  if (named !== undefined) setOwn(target, named.name, named.value);
}

/** Writes back elements kept as unknown, after the known ones (SPINE_PS 4.3.4 leniency). */
function plainUnknown(target: Record<string, unknown>, unknown: object | undefined): void {
  if (unknown === undefined) return;
  for (const [key, child] of Object.entries(unknown)) setOwn(target, key, child);
}

/** The header in XSD order (spine-go `HeaderType`; spine-protocol.md §2.1). */
function plainHeader(header: SpineHeader): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (header.specificationVersion !== undefined) {
    out.specificationVersion = header.specificationVersion;
  }
  out.addressSource = plainAddress(header.addressSource);
  out.addressDestination = plainAddress(header.addressDestination);
  if (header.addressOriginator !== undefined) {
    out.addressOriginator = plainAddress(header.addressOriginator);
  }
  out.msgCounter = counterValue(header.msgCounter);
  if (header.msgCounterReference !== undefined) {
    out.msgCounterReference = counterValue(header.msgCounterReference);
  }
  out.cmdClassifier = header.cmdClassifier;
  if (header.ackRequest !== undefined) out.ackRequest = header.ackRequest;
  if (header.timestamp !== undefined) out.timestamp = header.timestamp;
  return out;
}

/** A cmd in CmdType order: function, filter, data, extension, lastUpdateAt (§2.1). */
function plainCmd(cmd: SpineCmd): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (cmd.function !== undefined) out.function = cmd.function;
  if (cmd.filter !== undefined) {
    out.filter = cmd.filter.map((filter) => {
      const item: Record<string, unknown> = {};
      if (filter.filterId !== undefined) item.filterId = filter.filterId;
      item.cmdControl = { [filter.cmdControl]: {} };
      plainNamed(item, filter.selectors);
      plainNamed(item, filter.elements);
      plainUnknown(item, filter.unknown);
      return item;
    });
  }
  plainNamed(out, cmd.data);
  if (cmd.manufacturerSpecificExtension !== undefined) {
    out.manufacturerSpecificExtension = cmd.manufacturerSpecificExtension;
  }
  if (cmd.lastUpdateAt !== undefined) out.lastUpdateAt = cmd.lastUpdateAt;
  plainUnknown(out, cmd.unknown);
  return out;
}

/**
 * Encodes a datagram as the SHIP data payload `{"datagram": …}` (spine-protocol.md §1): in
 * EEBUS-JSON by default (what goes on the wire), or plain. Counters beyond 2^53 stay `bigint`;
 * serialise such values with {@link encodeDatagramText} (JSON.stringify cannot).
 */
export function encodeDatagram(
  datagram: SpineDatagram,
  form: DatagramForm = 'eebus',
): { datagram: unknown } {
  const plain = {
    header: plainHeader(datagram.header),
    payload: { cmd: datagram.payload.cmd.map(plainCmd) },
  };
  return { datagram: form === 'eebus' ? toEebusJson(plain) : plain };
}

/**
 * The SHIP data payload text of a datagram: minified EEBUS-JSON with Go's escaping, as ship-go
 * writes it (spine-protocol.md §1 "Send minified JSON"), and 64-bit counters written exactly.
 */
export function encodeDatagramText(datagram: SpineDatagram): string {
  return escapeLikeGo(stringifyJson(encodeDatagram(datagram, 'eebus')));
}
