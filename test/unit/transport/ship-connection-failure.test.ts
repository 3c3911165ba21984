/**
 * ShipConnection turns a failure into the close and the error object the failure table
 * (src/ship/errors.ts) gives its code: the transport's own failures (text frame) and the
 * machine's (CMI timeout) alike.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import { ProtocolError, TimeoutError } from '../../../src/errors.js';
import { smeConfig } from '../../../src/ship/handshake/index.js';
import { toSki } from '../../../src/ship/ski.js';
import {
  ShipConnection,
  type ConnectionClosedInfo,
} from '../../../src/transport/ship-connection.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** Just enough of ws.WebSocket; remembers the close frame it was asked to send. */
class ClosingSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly protocol = 'ship';
  closedWith: { code: number; reason: string } | undefined;
  send(): void {}
  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
    this.readyState = this.CLOSING;
  }
  terminate(): void {}
  ping(): void {}
}

function open(clock: FakeClock) {
  const socket = new ClosingSocket();
  const conn = new ShipConnection({
    socket: socket as unknown as WebSocket,
    sme: smeConfig({ role: 'server', localShipId: 'server', initialTrust: 'trusted' }),
    remoteSki: toSki('2'.repeat(40)),
    remoteAddress: '127.0.0.1',
    clock,
  });
  const closed = new Promise<ConnectionClosedInfo>((resolve) => conn.once('closed', resolve));
  conn.start();
  return { socket, closed };
}

describe('ShipConnection failures', () => {
  it('a text frame: 1003 from the table, a ProtocolError', async () => {
    const clock = new FakeClock();
    const { socket, closed } = open(clock);
    socket.emit('message', Buffer.from('{}'), false);
    assert.deepEqual(socket.closedWith, { code: 1003, reason: 'text frames are not allowed' });
    socket.emit('close', 1003, Buffer.from('text frames are not allowed'));
    const info = await closed;
    assert.equal(info.failure?.code, 'SHIPHUB_ERR_FRAME_INVALID');
    assert.ok(info.error instanceof ProtocolError);
    assert.equal(info.error.code, 'SHIPHUB_ERR_FRAME_INVALID');
  });

  it('no CMI in time: 4001 "CMI timeout", a TimeoutError with the close code', async () => {
    const clock = new FakeClock();
    const { socket, closed } = open(clock);
    clock.advance(10_000);
    assert.deepEqual(socket.closedWith, { code: 4001, reason: 'CMI timeout' });
    const info = await closed;
    assert.ok(info.error instanceof TimeoutError);
    assert.equal(info.error.code, 'SHIPHUB_ERR_CMI_TIMEOUT');
    assert.equal(info.error.closeCode, 4001);
    assert.equal(info.error.phase, 'cmi');
  });
});
