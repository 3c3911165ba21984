/**
 * The SPINE datagram as a typed plain model (spine-protocol.md §2.1 "The datagram", spine-go
 * `model/datagram.go` and `model/commandframe.go`). One SHIP `data` message carries exactly one
 * datagram in `payload.datagram` (§1). Function data stay plain objects (the EEBUS-JSON converted
 * form, element order as received) because their shape belongs to the feature that handles them.
 */
import type { FeatureAddress } from './address.js';

/** The SPINE version we send (spine-go `SpecificationVersion`; spine-protocol.md §2.1). */
export const SPECIFICATION_VERSION = '1.3.0';

/** `cmdClassifier` values (spine-protocol.md §2.2 "The classifiers"). */
export const CMD_CLASSIFIERS = ['read', 'reply', 'notify', 'write', 'call', 'result'] as const;

/** What a datagram asks for or answers (spine-protocol.md §2.2). */
export type CmdClassifier = (typeof CMD_CLASSIFIERS)[number];

/**
 * uint64 message counter (SPINE_PS 5.2.3, spine-protocol.md §2.3). Always a `bigint` in the model,
 * so counters beyond 2^53 compare exactly (conformance checklist item 8).
 */
export type MsgCounter = bigint;

/** Largest uint64: counters wrap from here to 0 (spine-protocol.md §2.3). */
export const MSG_COUNTER_MAX: MsgCounter = (1n << 64n) - 1n;

/** The datagram header (spine-protocol.md §2.1, XSD order as the fields are listed here). */
export interface SpineHeader {
  /** `1.3.0` from us; peers send 1.1.1, 1.2.0, "1.0.0 draft3" (§5.1: compare leniently). */
  specificationVersion?: string;
  addressSource: FeatureAddress;
  addressDestination: FeatureAddress;
  /** Routing through proxies; unused by every studied stack (§2.1). Kept for round trips. */
  addressOriginator?: FeatureAddress;
  /** Mandatory, new for every datagram (§2.3). */
  msgCounter: MsgCounter;
  /** Only in `reply` and `result`: the `msgCounter` of the request (§2.3, SPINE-TS-DATA-04). */
  msgCounterReference?: MsgCounter;
  cmdClassifier: CmdClassifier;
  /** Asks for a `result` (§2.2; ignored for `read` and `result`). */
  ackRequest?: boolean;
  /** AbsoluteOrRelativeTime; unused in practice (§2.1). */
  timestamp?: string;
}

/** `cmdControl` of a filter: exactly one of `delete` and `partial` (spine-protocol.md §3.1). */
export type CmdControl = 'delete' | 'partial';

/** A named element whose shape depends on the function (selectors, elements, function data). */
export interface NamedValue {
  readonly name: string;
  readonly value: unknown;
}

/**
 * One restricted-function-exchange filter (`FilterType`, spine-protocol.md §3.1; SPINE_PS 5.3.4).
 * Selector and element key names are function specific (`measurementListDataSelectors`,
 * `measurementDataElements`, …); their content is kept plain.
 */
export interface SpineFilter {
  filterId?: number;
  cmdControl: CmdControl;
  /** `<function>Selectors`: which items (fields inside are ANDed; §3.1). */
  selectors?: NamedValue;
  /** `<entry>Elements`: which elements (each leaf `{}`; §3.1). */
  elements?: NamedValue;
  /** Any other element, kept for round trips (unknown keys are ignored, SPINE_PS 4.3.4). */
  unknown?: Readonly<Record<string, unknown>>;
}

/**
 * One command (`CmdType`, spine-protocol.md §2.1): at most one function data element, the
 * optional `function` name repeating it (present iff a filter is, SPINE_PS 5.3.4.1), filters.
 */
export interface SpineCmd {
  /** `cmd.function` as sent; may be `""` (spine-go partial reads). Take the name from `data`. */
  function?: string;
  filter?: readonly SpineFilter[];
  /**
   * The function element: its name is the JSON key (`measurementListData`) and its value the
   * plain data (`{}` for a read). Absent when the cmd held no candidate element at all.
   */
  data?: NamedValue;
  manufacturerSpecificExtension?: string;
  lastUpdateAt?: string;
  /**
   * Further elements that are not part of CmdType (a second function element, future elements),
   * kept for round trips. A cmd whose function is unknown is answered with error 6 (§2.1, §6.3).
   */
  unknown?: Readonly<Record<string, unknown>>;
}

/** A whole datagram (spine-protocol.md §2.1). */
export interface SpineDatagram {
  header: SpineHeader;
  /** Commands in order; senders put one, receivers accept several (§2.1). */
  payload: { cmd: readonly SpineCmd[] };
}

/** `resultData` (spine-protocol.md §6.1). */
export interface ResultData {
  errorNumber: number;
  description?: string;
}

/** Error numbers of `resultData` (spine-go `model/result.go`; spine-protocol.md §6.1). */
export const ErrorNumber = {
  NoError: 0,
  GeneralError: 1,
  Timeout: 2,
  Overload: 3,
  DestinationUnknown: 4,
  DestinationUnreachable: 5,
  CommandNotSupported: 6,
  CommandRejected: 7,
  RestrictedFunctionExchangeCombinationNotSupported: 8,
  BindingIsNecessaryForThisCommand: 9,
} as const;
