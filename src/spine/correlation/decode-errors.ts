/**
 * Answering a datagram that could not be decoded (spine-protocol.md §6.3 "Error situations and
 * what the stacks answer"): malformed datagrams get an error `result` when the sender can be
 * addressed, and never disturb the connection.
 */
import type { DatagramDecodeError } from '../codec/datagram.js';
import { ErrorNumber, type ResultData, type SpineHeader } from '../model/datagram.js';

/**
 * The header an error `result` can answer, from what the decoder could read: it needs the
 * sender's and the addressed feature's addresses and the `msgCounter` to reference (§2.4). A
 * `result` is never answered (SPINE-TS-DATA-06), so a datagram known to be one gets nothing.
 * Without a readable classifier the header counts as a `call` (answered on failure, §6.2).
 */
export function answerableHeader(error: DatagramDecodeError): SpineHeader | undefined {
  const header = error.header;
  if (header === undefined) return undefined;
  const { addressSource, addressDestination, msgCounter, cmdClassifier } = header;
  if (addressSource === undefined || addressDestination === undefined) return undefined;
  if (msgCounter === undefined || cmdClassifier === 'result') return undefined;
  return { addressSource, addressDestination, msgCounter, cmdClassifier: cmdClassifier ?? 'call' };
}

/**
 * The `resultData` for a decoding failure (§6.1, §6.3): a missing or unknown `cmdClassifier` is
 * answered with 4 as spine-go does, an oversized datagram with 3 (Overload), a malformed filter
 * with 8, anything else with 1.
 */
export function resultForDecodeError(error: DatagramDecodeError): ResultData {
  let errorNumber: number = ErrorNumber.GeneralError;
  if (error.path === 'datagram.header.cmdClassifier') {
    errorNumber = ErrorNumber.DestinationUnknown;
  } else if (error.code === 'tooLarge') {
    errorNumber = ErrorNumber.Overload;
  } else if (/\.filter(\[|$)/.test(error.path)) {
    errorNumber = ErrorNumber.RestrictedFunctionExchangeCombinationNotSupported;
  }
  return { errorNumber, description: `${error.path}: ${error.detail}`.slice(0, 200) };
}
