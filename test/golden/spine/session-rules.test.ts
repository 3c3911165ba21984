/**
 * The answer rules of the correlation core (spine-protocol.md §2.2, §2.3, §6.2) checked against
 * what independent implementations did on the wire: in every recorded session, each `read` got
 * exactly one answer (reply or result) referencing its msgCounter, each datagram for which
 * `ackRequested` says a result is owed got a result, and no `result` was ever answered.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagramText } from '../../../src/spine/codec/datagram.js';
import { ackRequested } from '../../../src/spine/correlation/machine.js';
import type { SpineDatagram } from '../../../src/spine/model/datagram.js';
import { loadSessionDatagrams } from '../../helpers/spine-vectors.js';

/** Sessions in which both sides speak SPINE (the no-SPINE ones have a single unanswered read). */
const FULL_SESSIONS = [
  'eebusgo-controlbox-vs-eebusgo-hems.txt',
  'eebusgo-controlbox-vs-openeebus-heatpump.txt',
  'eebusgo-hems-vs-eebusgo-evse.txt',
  'openeebus-hems-vs-eebusgo-hems.txt',
  'openeebus-hems-vs-openeebus-heatpump.txt',
];

describe('answer rules against the recorded sessions', () => {
  for (const file of FULL_SESSIONS) {
    it(`${file}: reads answered once, owed results sent, results never answered`, () => {
      const datagrams: Array<{ from: string; datagram: SpineDatagram }> = [];
      for (const r of loadSessionDatagrams()) {
        if (r.file !== file) continue;
        const decoded = decodeDatagramText(r.payloadText);
        assert.ok(decoded.ok);
        datagrams.push({ from: r.direction.split('>')[0]!, datagram: decoded.datagram });
      }
      assert.ok(datagrams.length > 40);
      const answersTo = (from: string, counter: bigint) =>
        datagrams.filter(
          (d) =>
            d.from !== from &&
            d.datagram.header.msgCounterReference === counter &&
            (d.datagram.header.cmdClassifier === 'reply' ||
              d.datagram.header.cmdClassifier === 'result'),
        );
      let reads = 0;
      let acks = 0;
      for (const { from, datagram } of datagrams) {
        const { header } = datagram;
        const answers = answersTo(from, header.msgCounter);
        if (header.cmdClassifier === 'read') {
          reads++;
          assert.equal(answers.length, 1, `read ${header.msgCounter} from ${from}`);
        } else if (ackRequested(header)) {
          acks++;
          assert.ok(
            answers.some((a) => a.datagram.header.cmdClassifier === 'result'),
            `${header.cmdClassifier} ${header.msgCounter} from ${from} asked for a result`,
          );
        } else if (header.cmdClassifier === 'result') {
          assert.deepEqual(answers, [], `result ${header.msgCounter} from ${from} was answered`);
        }
      }
      assert.ok(reads > 0 && acks > 0, `${reads} reads, ${acks} acks`);
    });
  }
});
