/**
 * Replays of the recorded sessions through the correlation core (spine-protocol.md §2.2–§2.4,
 * §6.2): our machine plays one side. Every request the other side sent is fed in; where the
 * recorded side answered, our machine is told the same content (reply data or result) and must
 * produce the same answer on the wire — classifier, addresses, msgCounterReference, payload —
 * with a counter of its own; where the recorded side sent nothing, ours must send nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagramText, encodeDatagram } from '../../../src/spine/codec/datagram.js';
import {
  initialCorrelationState,
  step,
  type CorrelationState,
} from '../../../src/spine/correlation/machine.js';
import type { ResultData, SpineDatagram } from '../../../src/spine/model/datagram.js';
import { loadSessionDatagrams } from '../../helpers/spine-vectors.js';

const SESSIONS = [
  'eebusgo-controlbox-vs-eebusgo-hems.txt',
  'eebusgo-controlbox-vs-openeebus-heatpump.txt',
  'eebusgo-hems-vs-eebusgo-evse.txt',
  'openeebus-hems-vs-eebusgo-hems.txt',
  'openeebus-hems-vs-openeebus-heatpump.txt',
];

/** The wire form without the counter, to compare an answer with the recorded one. */
function withoutCounter(datagram: SpineDatagram): unknown {
  return encodeDatagram({ ...datagram, header: { ...datagram.header, msgCounter: 0n } }, 'plain');
}

describe('session replay through the correlation core', () => {
  for (const file of SESSIONS) {
    it(`${file}: each side's answers are reproduced by the core playing that side`, () => {
      const recorded: Array<{ from: string; datagram: SpineDatagram }> = [];
      for (const r of loadSessionDatagrams()) {
        if (r.file !== file) continue;
        const decoded = decodeDatagramText(r.payloadText);
        assert.ok(decoded.ok);
        recorded.push({ from: r.direction.split('>')[0]!, datagram: decoded.datagram });
      }
      const sides = [...new Set(recorded.map((r) => r.from))];
      assert.equal(sides.length, 2);
      let compared = 0;
      for (const us of sides) {
        // Our device address: what this side puts into its own source addresses.
        const localDevice = recorded.find((r) => r.from === us)!.datagram.header.addressSource
          .device!;
        let state: CorrelationState = initialCorrelationState({ localDevice });
        for (const { from, datagram } of recorded) {
          if (from === us) continue;
          const { header } = datagram;
          if (header.cmdClassifier === 'reply' || header.cmdClassifier === 'result') continue;
          const answer = recorded.find(
            (r) =>
              r.from === us &&
              r.datagram.header.msgCounterReference === header.msgCounter &&
              (r.datagram.header.cmdClassifier === 'reply' ||
                r.datagram.header.cmdClassifier === 'result'),
          )?.datagram;
          if (header.cmdClassifier === 'read') {
            assert.ok(answer, `read ${header.msgCounter} unanswered in the recording`);
            const received = step(state, { kind: 'received', now: 0, datagram });
            state = received.state;
            const input =
              answer.header.cmdClassifier === 'reply'
                ? ({ kind: 'reply', now: 0, request: header, cmd: answer.payload.cmd[0]! } as const)
                : ({
                    kind: 'acknowledge',
                    now: 0,
                    request: header,
                    result: answer.payload.cmd[0]!.data!.value as ResultData,
                  } as const);
            const answered = step(state, input);
            state = answered.state;
            const sent = answered.effects.flatMap((e) => (e.kind === 'send' ? [e.datagram] : []));
            assert.equal(sent.length, 1);
            assert.deepEqual(
              withoutCounter(sent[0]!),
              withoutCounter(answer),
              `${us} answers read ${header.msgCounter}`,
            );
            compared++;
            continue;
          }
          // notify / write / call: the recorded side's result (if any) is the outcome.
          const outcome: ResultData =
            answer?.header.cmdClassifier === 'result'
              ? (answer.payload.cmd[0]!.data!.value as ResultData)
              : { errorNumber: 0 };
          const received = step(state, { kind: 'received', now: 0, datagram, outcome });
          state = received.state;
          const sent = received.effects.flatMap((e) => (e.kind === 'send' ? [e.datagram] : []));
          if (answer === undefined) {
            assert.deepEqual(
              sent,
              [],
              `${us} sent nothing for ${header.cmdClassifier} ${header.msgCounter}`,
            );
          } else {
            assert.equal(
              sent.length,
              1,
              `${us} answered ${header.cmdClassifier} ${header.msgCounter}`,
            );
            assert.deepEqual(withoutCounter(sent[0]!), withoutCounter(answer));
            compared++;
          }
        }
      }
      assert.ok(compared >= 10, `${compared} answers compared`);
    });
  }
});
