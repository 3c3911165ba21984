import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import dbus from 'dbus-next';
import {
  AvahiBus,
  SIGNAL_BUFFER_MAX_AGE_MS,
  SIGNAL_BUFFER_MAX_PER_PATH,
  bodyByteArrays,
} from '../../../src/mdns/avahi-bus.js';
import { FakeClock } from './fake-clock.js';

/** Just enough of dbus-next's MessageBus for the signal routing. */
class FakeMessageBus extends EventEmitter {
  disconnected = false;
  disconnect(): void {
    this.disconnected = true;
  }
  signal(path: string, iface: string, member: string, body: unknown[]): void {
    this.emit(
      'message',
      new dbus.Message({
        type: dbus.MessageType.SIGNAL,
        path,
        interface: iface,
        member,
        body,
        signature: '',
      }),
    );
  }
}

function setup() {
  const clock = new FakeClock();
  const raw = new FakeMessageBus();
  const bus = AvahiBus.attach(raw as unknown as dbus.MessageBus, { clock });
  return { clock, raw, bus };
}

describe('AvahiBus signal routing', () => {
  it('buffers signals that arrive before the path has a handler and replays them', () => {
    const { raw, bus } = setup();
    // avahi 0.8 sends Found for cached data while ServiceResolverPrepare is still returning.
    raw.signal('/Client1/ServiceResolver1', 'org.freedesktop.Avahi.ServiceResolver', 'Found', [
      1,
      0,
      'x',
    ]);
    raw.signal('/Client1/ServiceResolver2', 'org.freedesktop.Avahi.ServiceResolver', 'Found', [2]);
    const seen: Array<[string, readonly unknown[]]> = [];
    bus.subscribe('/Client1/ServiceResolver1', (member, body) => seen.push([member, body]));
    assert.deepEqual(seen, [['Found', [1, 0, 'x']]]);
    raw.signal('/Client1/ServiceResolver1', 'org.freedesktop.Avahi.ServiceResolver', 'Failure', [
      'Timeout',
    ]);
    assert.equal(seen.length, 2);
    bus.unsubscribe('/Client1/ServiceResolver1');
    raw.signal('/Client1/ServiceResolver1', 'org.freedesktop.Avahi.ServiceResolver', 'Found', []);
    assert.equal(seen.length, 2);
  });

  it('ignores non-Avahi signals and bounds the buffer by age and size', () => {
    const { clock, raw, bus } = setup();
    raw.signal('/x', 'org.example.Other', 'Ping', []);
    for (let i = 0; i < SIGNAL_BUFFER_MAX_PER_PATH + 10; i++) {
      raw.signal('/p', 'org.freedesktop.Avahi.ServiceBrowser', 'ItemNew', [i]);
    }
    raw.signal('/old', 'org.freedesktop.Avahi.ServiceBrowser', 'ItemNew', []);
    clock.advance(SIGNAL_BUFFER_MAX_AGE_MS + 1);
    raw.signal('/new', 'org.freedesktop.Avahi.ServiceBrowser', 'ItemNew', []);
    let count = 0;
    bus.subscribe('/p', () => count++);
    assert.equal(count, 0, 'stale buffer dropped');
    let other = 0;
    bus.subscribe('/x', () => other++);
    assert.equal(other, 0);
    raw.signal('/q', 'org.freedesktop.Avahi.ServiceBrowser', 'ItemNew', []);
    for (let i = 0; i < SIGNAL_BUFFER_MAX_PER_PATH + 10; i++) {
      raw.signal('/q', 'org.freedesktop.Avahi.ServiceBrowser', 'ItemNew', [i]);
    }
    bus.subscribe('/q', () => count++);
    assert.equal(count, SIGNAL_BUFFER_MAX_PER_PATH);
  });

  it('reports Avahi owner changes and a lost connection', () => {
    const { raw, bus } = setup();
    const owners: string[] = [];
    let lost = 0;
    bus.onOwnerChanged((owner) => owners.push(owner));
    bus.onDisconnect(() => lost++);
    raw.signal('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameOwnerChanged', [
      'org.freedesktop.Avahi',
      ':1.4',
      '',
    ]);
    raw.signal('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameOwnerChanged', [
      'org.freedesktop.Avahi',
      '',
      ':1.9',
    ]);
    raw.signal('/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameOwnerChanged', [
      'org.other',
      '',
      ':1.7',
    ]);
    assert.deepEqual(owners, ['', ':1.9']);
    raw.emit('error', new Error('ECONNRESET'));
    assert.equal(lost, 1);
    assert.ok(raw.disconnected);
    assert.ok(bus.isClosed);
  });

  it('decodes aay bodies as byte arrays', () => {
    assert.deepEqual(
      bodyByteArrays([[Buffer.from('a=1'), [98, 61, 50]]], 0).map((b) => Buffer.from(b).toString()),
      ['a=1', 'b=2'],
    );
    assert.throws(() => bodyByteArrays(['x'], 0), /not an array/);
  });
});
