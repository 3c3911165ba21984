/**
 * Error results for malformed datagrams (spine-protocol.md §6.3): who can be answered and with
 * which errorNumber; the answer goes out through the correlation machine's `acknowledge`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagram } from '../../../src/spine/codec/datagram.js';
import {
  answerableHeader,
  resultForDecodeError,
} from '../../../src/spine/correlation/decode-errors.js';
import { initialCorrelationState, step } from '../../../src/spine/correlation/machine.js';

const SOURCE = { device: 'd:_i:1_A', entity: [1], feature: 2 };
const DESTINATION = { device: 'd:_n:ShipHub_HEMS-0001', entity: [1], feature: 3 };

function broken(header: Record<string, unknown>, payload: unknown = { cmd: [{ a: {} }] }) {
  const result = decodeDatagram({
    datagram: {
      header: {
        addressSource: SOURCE,
        addressDestination: DESTINATION,
        msgCounter: 9,
        cmdClassifier: 'write',
        ...header,
      },
      payload,
    },
  });
  assert.ok(!result.ok);
  return result.error;
}

describe('error results for undecodable datagrams', () => {
  it('a missing cmdClassifier is answered with 4 as a call would be (spine-go)', () => {
    const error = broken({ cmdClassifier: undefined });
    assert.equal(resultForDecodeError(error).errorNumber, 4);
    const header = answerableHeader(error);
    assert.equal(header?.cmdClassifier, 'call');
    const answered = step(initialCorrelationState({ localDevice: 'd:_n:ShipHub_HEMS-0001' }), {
      kind: 'acknowledge',
      now: 0,
      request: header,
      result: resultForDecodeError(error),
    });
    const send = answered.effects[0];
    assert.ok(send?.kind === 'send');
    assert.equal(send.datagram.header.msgCounterReference, 9n);
    assert.deepEqual(send.datagram.header.addressDestination, SOURCE);
  });

  it('a bad filter gets 8, too many cmds 3, anything else 1', () => {
    assert.equal(
      resultForDecodeError(broken({}, { cmd: [{ filter: [{ cmdControl: {} }] }] })).errorNumber,
      8,
    );
    assert.equal(
      resultForDecodeError(broken({}, { cmd: Array.from({ length: 40 }, () => ({ a: {} })) }))
        .errorNumber,
      3,
    );
    assert.equal(resultForDecodeError(broken({}, {})).errorNumber, 1);
  });

  it('nothing is answered without sender or counter, nor a result', () => {
    assert.equal(answerableHeader(broken({ msgCounter: undefined })), undefined);
    assert.equal(answerableHeader(broken({ addressSource: undefined })), undefined);
    assert.equal(answerableHeader(broken({ cmdClassifier: 'result' }, {})), undefined);
    const notJson = decodeDatagram(5);
    assert.ok(!notJson.ok);
    assert.equal(answerableHeader(notJson.error), undefined);
  });
});
