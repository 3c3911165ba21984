/**
 * A thin client for the Avahi daemon on the D-Bus system bus (dbus-next, message level).
 *
 * Why message level and not proxy objects: avahi 0.8 emits `ServiceResolver.Found` for cached
 * records while `ServiceResolverPrepare` is still returning, before a proxy could subscribe on the
 * new object path (seen with dbus-monitor, mDNS lab report §3.2). So every Avahi signal is taken
 * from the raw message stream, routed by object path, and buffered for paths that have no
 * handler yet; `subscribe()` replays the buffer. The buffer is bounded in paths, messages and age.
 *
 * The bus honours DBUS_SYSTEM_BUS_ADDRESS (dbus-next's systemBus()). A missing bus socket shows up
 * as an `error` event on the bus and calls that never settle, so connecting has an error handler
 * and a timeout, and every call has a timeout too.
 */
import dbus from 'dbus-next';
import { TransportError } from '../ship/errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { silentLogger, type MdnsLogger } from './log.js';

export const AVAHI_BUS_NAME = 'org.freedesktop.Avahi';
export const AVAHI_SERVER_INTERFACE = 'org.freedesktop.Avahi.Server';
export const AVAHI_SERVER2_INTERFACE = 'org.freedesktop.Avahi.Server2';
export const AVAHI_ENTRY_GROUP_INTERFACE = 'org.freedesktop.Avahi.EntryGroup';
export const AVAHI_SERVICE_BROWSER_INTERFACE = 'org.freedesktop.Avahi.ServiceBrowser';
export const AVAHI_SERVICE_RESOLVER_INTERFACE = 'org.freedesktop.Avahi.ServiceResolver';

/** avahi-common/defs.h */
export const AVAHI_IF_UNSPEC = -1;
export const AVAHI_PROTO_UNSPEC = -1;
export const AVAHI_PROTO_INET = 0;
export const AVAHI_PROTO_INET6 = 1;

/** AvahiServerState */
export const AvahiServerState = {
  INVALID: 0,
  REGISTERING: 1,
  RUNNING: 2,
  COLLISION: 3,
  FAILURE: 4,
} as const;

/** AvahiEntryGroupState */
export const AvahiEntryGroupState = {
  UNCOMMITED: 0,
  REGISTERING: 1,
  ESTABLISHED: 2,
  COLLISION: 3,
  FAILURE: 4,
} as const;

export const AVAHI_CONNECT_TIMEOUT_MS = 2_000;
export const AVAHI_CALL_TIMEOUT_MS = 5_000;
/** Buffered signals for paths without a handler: bounds. */
export const SIGNAL_BUFFER_MAX_AGE_MS = 10_000;
export const SIGNAL_BUFFER_MAX_PATHS = 256;
export const SIGNAL_BUFFER_MAX_PER_PATH = 64;

export type SignalBody = readonly unknown[];
export type SignalHandler = (member: string, body: SignalBody) => void;

interface Buffered {
  at: number;
  messages: Array<{ member: string; body: SignalBody }>;
}

export interface AvahiBusOptions {
  clock: Clock;
  logger?: MdnsLogger;
  connectTimeoutMs?: number;
  callTimeoutMs?: number;
}

/** Reads an argument of a D-Bus message body with a type check. */
export function bodyString(body: SignalBody, index: number): string {
  const value = body[index];
  if (typeof value !== 'string') throw new TypeError(`D-Bus argument ${index} is not a string`);
  return value;
}

export function bodyNumber(body: SignalBody, index: number): number {
  const value = body[index];
  if (typeof value !== 'number') throw new TypeError(`D-Bus argument ${index} is not a number`);
  return value;
}

export function bodyByteArrays(body: SignalBody, index: number): Uint8Array[] {
  const value = body[index];
  if (!Array.isArray(value)) throw new TypeError(`D-Bus argument ${index} is not an array`);
  return value.map((item: unknown) => {
    if (item instanceof Uint8Array) return item;
    if (Array.isArray(item)) return Uint8Array.from(item as number[]);
    throw new TypeError(`D-Bus argument ${index} is not an array of byte arrays`);
  });
}

export class AvahiBus {
  private readonly handlers = new Map<string, SignalHandler>();
  private readonly buffered = new Map<string, Buffered>();
  private readonly ownerListeners = new Set<(owner: string) => void>();
  private readonly disconnectListeners = new Set<(error: unknown) => void>();
  private readonly clock: Clock;
  readonly logger: MdnsLogger;
  private readonly callTimeoutMs: number;
  private closed = false;
  private firstError: unknown;
  /** Avahi's version string, learnt while connecting. */
  version = '';

  private constructor(
    private readonly bus: dbus.MessageBus,
    options: AvahiBusOptions,
  ) {
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.callTimeoutMs = options.callTimeoutMs ?? AVAHI_CALL_TIMEOUT_MS;
  }

  /**
   * Connects to the system bus and checks that Avahi answers. Throws a TransportError when there
   * is no bus, no Avahi, or no answer within the timeout.
   */
  static async connect(options: AvahiBusOptions): Promise<AvahiBus> {
    const connectTimeoutMs = options.connectTimeoutMs ?? AVAHI_CONNECT_TIMEOUT_MS;
    const address = 'the D-Bus system bus (DBUS_SYSTEM_BUS_ADDRESS or /var/run/dbus)';
    let raw: dbus.MessageBus;
    try {
      raw = dbus.systemBus();
    } catch (error: unknown) {
      throw new TransportError('SHIPHUB_ERR_TRANSPORT', `cannot connect to ${address}`, {
        cause: error,
      });
    }
    const client = AvahiBus.attach(raw, options);
    // A missing socket ends the connection at once, and calls on it never settle: fail fast
    // (also because the clock's unref'd timeout alone would not keep the process alive).
    let stopWatching: () => void = () => undefined;
    const lost = new Promise<never>((_resolve, reject) => {
      stopWatching = client.onDisconnect((error) => {
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
    try {
      const version = await client.withTimeout(
        Promise.race([client.serverCall('GetVersionString'), lost]),
        connectTimeoutMs,
        'GetVersionString',
      );
      client.version = typeof version[0] === 'string' ? version[0] : '';
      await client.addMatch(`type='signal',sender='${AVAHI_BUS_NAME}'`);
      await client.addMatch(
        `type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${AVAHI_BUS_NAME}'`,
      );
      stopWatching();
    } catch (error: unknown) {
      stopWatching();
      client.close();
      const reason = client.firstError ?? error;
      throw new TransportError(
        'SHIPHUB_ERR_TRANSPORT',
        `Avahi is not available on ${address}: ${errorText(reason)}`,
        { cause: reason, hint: 'start avahi-daemon, or use the builtin mDNS provider' },
      );
    }
    return client;
  }

  /**
   * Wraps an existing dbus-next MessageBus (no handshake, no AddMatch): used by connect() and by
   * tests that drive the signal routing with a fake bus.
   */
  static attach(raw: dbus.MessageBus, options: AvahiBusOptions): AvahiBus {
    const client = new AvahiBus(raw, options);
    // MessageBus does not forward the end of the stream; the connection object has it.
    const connection = (
      raw as unknown as {
        _connection?: {
          on(ev: 'end', cb: () => void): void;
          stream?: { destroyed?: boolean; writable?: boolean };
        };
      }
    )._connection;
    raw.on('error', (error: unknown) => {
      client.firstError ??= error;
      const stream = connection?.stream;
      if (stream === undefined || stream.destroyed === true || stream.writable === false) {
        client.handleDisconnect(error);
      } else {
        client.logger.warn({ err: error }, 'avahi: D-Bus error');
      }
    });
    raw.on('message', (message: dbus.Message) => {
      client.route(message);
    });
    connection?.on('end', () => {
      client.handleDisconnect(new Error('D-Bus connection closed'));
    });
    return client;
  }

  /** Calls a method on Avahi; rejects after the call timeout. */
  call(
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
  ): Promise<SignalBody> {
    return this.withTimeout(
      this.rawCall(AVAHI_BUS_NAME, path, iface, member, signature, body),
      this.callTimeoutMs,
      member,
    );
  }

  /** Calls a method of org.freedesktop.Avahi.Server on "/". */
  server(member: string, signature = '', body: unknown[] = []): Promise<SignalBody> {
    return this.call('/', AVAHI_SERVER_INTERFACE, member, signature, body);
  }

  /** Calls a method of org.freedesktop.Avahi.Server2 (avahi ≥ 0.8) on "/". */
  server2(member: string, signature = '', body: unknown[] = []): Promise<SignalBody> {
    return this.call('/', AVAHI_SERVER2_INTERFACE, member, signature, body);
  }

  /** Routes Avahi signals for `path` to `handler`, replaying what arrived before. */
  subscribe(path: string, handler: SignalHandler): void {
    this.handlers.set(path, handler);
    const pending = this.buffered.get(path);
    this.buffered.delete(path);
    if (pending === undefined) return;
    for (const message of pending.messages) this.deliver(handler, message.member, message.body);
  }

  unsubscribe(path: string): void {
    this.handlers.delete(path);
    this.buffered.delete(path);
  }

  /** Drops every subscription and buffer (Avahi went away: its object paths are void). */
  resetSubscriptions(keep: readonly string[] = []): void {
    for (const path of [...this.handlers.keys()])
      if (!keep.includes(path)) this.handlers.delete(path);
    this.buffered.clear();
  }

  /** Avahi got a new owner on the bus ("" = gone, else its new unique name). */
  onOwnerChanged(listener: (owner: string) => void): () => void {
    this.ownerListeners.add(listener);
    return () => this.ownerListeners.delete(listener);
  }

  /** The bus connection broke (D-Bus daemon restarted or socket closed). */
  onDisconnect(listener: (error: unknown) => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    this.buffered.clear();
    try {
      this.bus.disconnect();
    } catch {
      // already gone
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  private serverCall(member: string): Promise<SignalBody> {
    return this.rawCall(AVAHI_BUS_NAME, '/', AVAHI_SERVER_INTERFACE, member, '', []);
  }

  private addMatch(rule: string): Promise<SignalBody> {
    return this.withTimeout(
      this.rawCall(
        'org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus',
        'AddMatch',
        's',
        [rule],
      ),
      this.callTimeoutMs,
      'AddMatch',
    );
  }

  private async rawCall(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature: string,
    body: unknown[],
  ): Promise<SignalBody> {
    if (this.closed) throw new Error('D-Bus connection is closed');
    const reply = await this.bus.call(
      new dbus.Message({ destination, path, interface: iface, member, signature, body }),
    );
    return (reply?.body ?? []) as SignalBody;
  }

  private withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = this.clock.setTimer(`dbus-${what}`, timeoutMs, () => {
        reject(new Error(`D-Bus call ${what} got no answer within ${timeoutMs} ms`));
      });
    });
    return Promise.race([promise, timeout]).finally(() => timer?.cancel());
  }

  private route(message: dbus.Message): void {
    if (message.type !== dbus.MessageType.SIGNAL) return;
    if (
      message.member === 'NameOwnerChanged' &&
      message.interface === 'org.freedesktop.DBus' &&
      message.body[0] === AVAHI_BUS_NAME
    ) {
      const owner = typeof message.body[2] === 'string' ? message.body[2] : '';
      for (const listener of [...this.ownerListeners]) {
        try {
          listener(owner);
        } catch (error: unknown) {
          this.logger.error({ err: error }, 'avahi: owner listener threw');
        }
      }
      return;
    }
    if (!message.interface.startsWith('org.freedesktop.Avahi.')) return;
    const handler = this.handlers.get(message.path);
    if (handler !== undefined) {
      this.deliver(handler, message.member, message.body);
      return;
    }
    this.buffer(message.path, message.member, message.body);
  }

  private buffer(path: string, member: string, body: SignalBody): void {
    const now = this.clock.now();
    for (const [key, entry] of this.buffered) {
      if (now - entry.at > SIGNAL_BUFFER_MAX_AGE_MS) this.buffered.delete(key);
    }
    let entry = this.buffered.get(path);
    if (entry === undefined) {
      if (this.buffered.size >= SIGNAL_BUFFER_MAX_PATHS) {
        const oldest = this.buffered.keys().next().value;
        if (oldest !== undefined) this.buffered.delete(oldest);
      }
      entry = { at: now, messages: [] };
      this.buffered.set(path, entry);
    }
    entry.at = now;
    if (entry.messages.length < SIGNAL_BUFFER_MAX_PER_PATH) entry.messages.push({ member, body });
  }

  private deliver(handler: SignalHandler, member: string, body: SignalBody): void {
    try {
      handler(member, body);
    } catch (error: unknown) {
      this.logger.error({ err: error, member }, 'avahi: signal handler threw');
    }
  }

  private handleDisconnect(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    // Before Avahi answered once this is just "no bus here" (auto selection falls back quietly).
    if (this.version === '') this.logger.debug({ err: error }, 'avahi: no D-Bus connection');
    else this.logger.warn({ err: error }, 'avahi: D-Bus connection lost');
    try {
      this.bus.disconnect();
    } catch {
      // already gone
    }
    for (const listener of [...this.disconnectListeners]) {
      try {
        listener(error);
      } catch (listenerError: unknown) {
        this.logger.error({ err: listenerError }, 'avahi: disconnect listener threw');
      }
    }
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
