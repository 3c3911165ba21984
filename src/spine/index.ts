/**
 * The pure SPINE core (EEBUS SPINE 1.3; the project's reference is spine-protocol.md): datagram
 * model and codec, device models, request/reply correlation, notify merging. No I/O, no timers,
 * no clock reads: time arrives with the inputs, sends and timers leave as effects.
 */
export * from './model/address.js';
export * from './model/datagram.js';
export * from './codec/datagram.js';
export { parseJsonLossless, stringifyJson } from './codec/json-lossless.js';
export type { LosslessParseResult } from './codec/json-lossless.js';
export * from './model/device.js';
export * from './device/discovery.js';
/** Request/reply correlation: `correlation.step(state, input)`. */
export * as correlation from './correlation/machine.js';
export * from './device/local.js';
export * from './merge/merge.js';
export * from './correlation/decode-errors.js';
export * from './node-management/use-cases.js';
export * from './node-management/relations.js';
export * from './session/duration.js';
export * from './session/types.js';
/** One SPINE session per remote device: `session.step(state, input)`. */
export * as session from './session/session.js';
export * from './session/defaults.js';
export * from './monitoring/index.js';
