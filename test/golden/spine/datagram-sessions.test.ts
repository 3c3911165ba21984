/**
 * Golden tests of the SPINE datagram codec (spine-protocol.md §1, §2.1, §3.1; conformance
 * checklist items 1 and 3) over every datagram of the recorded sessions between independent
 * implementations (openeebus, eebus-go, ship-hub) and over the devices' recorded discovery and use
 * case messages in both the wire form and the object form of enbility/devices.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeDatagram,
  decodeDatagramText,
  encodeDatagram,
  encodeDatagramText,
} from '../../../src/spine/codec/datagram.js';
import { parseJsonLossless } from '../../../src/spine/codec/json-lossless.js';
import { isObject } from '../../../src/spine/codec/values.js';
import {
  deviceFolders,
  hasDeviceFile,
  loadDeviceFile,
  loadSessionDatagrams,
} from '../../helpers/spine-vectors.js';

describe('SPINE codec against the recorded sessions', () => {
  const recorded = loadSessionDatagrams();

  it('finds the datagrams of all ten recordings', () => {
    const files = new Set(recorded.map((r) => r.file));
    assert.equal(files.size, 10);
    // 77 + 122 + 127 + 41 + 104 in the five full sessions alone.
    assert.ok(recorded.length >= 471, `only ${recorded.length} datagrams`);
  });

  it('decodes every datagram and re-encodes it to the same JSON, byte for byte', () => {
    const classifiers = new Map<string, number>();
    for (const r of recorded) {
      const where = `${r.file} ${r.id}`;
      const result = decodeDatagramText(r.payloadText);
      assert.ok(result.ok, `${where}: ${JSON.stringify(result.ok ? '' : result.error)}`);
      const { datagram } = result;
      classifiers.set(
        datagram.header.cmdClassifier,
        (classifiers.get(datagram.header.cmdClassifier) ?? 0) + 1,
      );
      const expected = parseJsonLossless(r.payloadText);
      assert.ok(expected.ok);
      assert.deepEqual(encodeDatagram(datagram), expected.value, where);
      assert.equal(encodeDatagramText(datagram), r.payloadText, where);
      // The plain form decodes to the same model.
      const again = decodeDatagram(encodeDatagram(datagram, 'plain'));
      assert.ok(again.ok, where);
      assert.deepEqual(again.datagram, datagram, where);
    }
    // Every classifier occurs in real traffic.
    assert.deepEqual([...classifiers.keys()].sort(), [
      'call',
      'notify',
      'read',
      'reply',
      'result',
      'write',
    ]);
  });

  it('reads headers, filters and function names as recorded', () => {
    const limitWrite = recorded
      .map((r) => decodeDatagramText(r.payloadText))
      .map((r) => (r.ok ? r.datagram : undefined))
      .find(
        (d) =>
          d?.header.cmdClassifier === 'write' &&
          d.payload.cmd[0]?.data?.name === 'loadControlLimitListData',
      );
    assert.ok(limitWrite, 'a recorded LPC limit write');
    const cmd = limitWrite.payload.cmd[0]!;
    assert.equal(cmd.function, 'loadControlLimitListData');
    assert.equal(cmd.filter?.[0]?.cmdControl, 'partial');
    assert.equal(limitWrite.header.ackRequest, true);
    assert.equal(typeof limitWrite.header.msgCounter, 'bigint');
  });
});

/** The SPINE payload inside a devices-repo SHIP data message, in either form. */
function datagramOf(message: unknown): unknown {
  assert.ok(isObject(message));
  const data = message.data;
  if (Array.isArray(data)) {
    const payload = data.find((item) => isObject(item) && 'payload' in item) as
      { payload: unknown } | undefined;
    return payload?.payload;
  }
  assert.ok(isObject(data));
  return data.payload;
}

describe('SPINE codec against the devices repository (wire and object form)', () => {
  for (const folder of deviceFolders()) {
    for (const name of ['discovery-data.json', 'usecase-data.json']) {
      const hasObject = hasDeviceFile(folder, name);
      const hasWire = hasDeviceFile(folder, `wire/${name}`);
      if (!hasObject && !hasWire) continue;
      it(`${folder}/${name}: decodes${hasObject && hasWire ? ', both forms to the same model' : ''}`, () => {
        const decoded = [];
        for (const file of [hasObject ? name : undefined, hasWire ? `wire/${name}` : undefined]) {
          if (file === undefined) continue;
          const result = decodeDatagram(datagramOf(loadDeviceFile(folder, file)));
          assert.ok(result.ok, `${file}: ${JSON.stringify(result.ok ? '' : result.error)}`);
          decoded.push(result.datagram);
        }
        if (decoded.length === 2) {
          // The object form writes `{}` where the wire form has `[]`; both mean the same.
          assert.deepEqual(
            encodeDatagram(decoded[0]!, 'eebus'),
            encodeDatagram(decoded[1]!, 'eebus'),
          );
        }
      });
    }
  }
});
