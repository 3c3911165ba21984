/**
 * The SHIP codec (SHIP §13.4.2 framing, SHIP §11 EEBUS-JSON): pure functions from the message
 * model in ../messages.ts to the bytes of one binary WebSocket message and back.
 */
export { dataMessagePayloadText, decodeMessage, encodeMessage } from './frame.js';
export { RawJsonPayload, dataPayloadText } from './data.js';
export type { DecodeOptions } from './frame.js';
export { EEBUS_JSON_DEFAULT_MAX_DEPTH, fromEebusJson, toEebusJson } from './eebus-json.js';
export type { EebusJsonOptions } from './eebus-json.js';
