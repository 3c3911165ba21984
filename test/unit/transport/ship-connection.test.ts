/**
 * ShipConnection's write batching: the messages of one SME step go to the TLS socket between one
 * cork() and one uncork(), so they leave in one TLS record and one syscall.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type WebSocket from 'ws';
import { createLogger } from '../../../src/ops/logger.js';
import { smeConfig } from '../../../src/ship/handshake/index.js';
import { toSki } from '../../../src/ship/ski.js';
import { ShipConnection } from '../../../src/transport/ship-connection.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** Just enough of ws.WebSocket; every call lands in `log`. */
class RecordingSocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly protocol = 'ship';
  constructor(private readonly log: string[]) {
    super();
  }
  send(data: Uint8Array): void {
    this.log.push(`send ${data[0]}`);
  }
  close(): void {
    this.log.push('close');
  }
  terminate(): void {
    this.log.push('terminate');
  }
  ping(): void {}
}

function connection(log: string[], withStream: boolean) {
  const socket = new RecordingSocket(log);
  const stream = { cork: () => log.push('cork'), uncork: () => log.push('uncork') };
  const conn = new ShipConnection({
    socket: socket as unknown as WebSocket,
    ...(withStream ? { stream } : {}),
    sme: smeConfig({ role: 'server', localShipId: 'server', initialTrust: 'trusted' }),
    remoteSki: toSki('1'.repeat(40)),
    remoteAddress: '127.0.0.1',
    clock: new FakeClock(),
  });
  conn.start();
  return { conn, socket };
}

describe('ShipConnection write batching', () => {
  it("a step's messages (CMI + hello) are sent between one cork and one uncork", () => {
    const log: string[] = [];
    const { socket } = connection(log, true);
    log.length = 0;
    // The client's CMI: the server answers with its CMI (type 0) and its hello (type 1).
    socket.emit('message', Buffer.from([0, 0]), true);
    assert.deepEqual(log, ['cork', 'send 0', 'send 1', 'uncork']);
  });

  it('every input is balanced (cork/uncork) even when nothing is sent', () => {
    const log: string[] = [];
    const { socket } = connection(log, true);
    socket.emit('message', Buffer.from([0, 0]), true);
    log.length = 0;
    // An unknown message type in the hello phase: the machine answers with hello `aborted`.
    socket.emit('message', Buffer.from([9, 0]), true);
    assert.deepEqual(log, ['cork', 'send 1', 'uncork']);
    // After the abort the same input sends nothing, and is still balanced.
    log.length = 0;
    socket.emit('message', Buffer.from([9, 0]), true);
    assert.equal(log.filter((l) => l === 'cork').length, log.filter((l) => l === 'uncork').length);
    assert.equal(log[0], 'cork');
    assert.equal(log.at(-1), 'uncork');
  });

  it('without a stream the messages are sent one by one', () => {
    const log: string[] = [];
    const { socket } = connection(log, false);
    log.length = 0;
    socket.emit('message', Buffer.from([0, 0]), true);
    assert.deepEqual(log, ['send 0', 'send 1']);
  });
});

describe('ShipConnection log lines', () => {
  it("a peer's close reason is escaped in the log message and kept raw in the failure", () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = createLogger({ level: 'debug', format: 'json', destination });
    const socket = new RecordingSocket([]);
    const conn = new ShipConnection({
      socket: socket as unknown as WebSocket,
      sme: smeConfig({ role: 'server', localShipId: 'server', initialTrust: 'trusted' }),
      remoteSki: toSki('1'.repeat(40)),
      remoteAddress: '127.0.0.1',
      clock: new FakeClock(),
      logger,
    });
    let failure: { message: string } | undefined;
    conn.once('closed', (info) => (failure = info.failure));
    conn.start();
    socket.emit('message', Buffer.from([0, 0]), true);
    socket.readyState = 3;
    socket.emit('close', 4000, Buffer.from('Evil\x1b[2JCorp\r'));
    assert.ok(failure?.message.includes('Evil\x1b[2JCorp\r'), failure?.message);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string });
    const line = logged.find((r) => r.msg.includes('Evil'));
    assert.ok(line !== undefined, lines.join('\n'));
    assert.ok(line.msg.includes('Evil\\x1b[2JCorp\\x0d'), line.msg);
    // eslint-disable-next-line no-control-regex -- looking for control characters
    assert.doesNotMatch(line.msg, /[\u0000-\u001f]/);
  });
});
