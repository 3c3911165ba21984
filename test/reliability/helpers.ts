/**
 * Shared helpers of the reliability tests and the soak benchmark: hubs over real TLS on
 * 127.0.0.1, raw hostile SHIP clients, process error traps, file-descriptor limits and memory
 * readings. Not a test file itself.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { Hub, type HubOptions } from '../../src/hub/hub.js';
import { TlsTransport, type TlsTransportOptions } from '../../src/hub/transport.js';
import type { DiscoveredService, MdnsProvider } from '../../src/mdns/types.js';
import type { Ski } from '../../src/ship/ski.js';
import { connectShipTls, type ShipTlsContext } from '../../src/transport/tls.js';
import { systemClock } from '../../src/util/clock.js';
import { StaticDiscovery, serviceAt as sharedServiceAt } from '../helpers/static-discovery.js';

export const HOST = '127.0.0.1';

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `predicate` every 10 ms, at most `maxPolls` times (the bound is a count, never a time
 * the test asserts on); rejects naming `what` if the condition never held.
 */
export async function waitFor(
  predicate: () => boolean,
  what: string,
  maxPolls = 6_000,
): Promise<void> {
  for (let polls = 0; !predicate(); polls++) {
    if (polls >= maxPolls) throw new Error(`${what}: still not the case after ${maxPolls} polls`);
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------------------------
// Process-wide error traps

/** Records unhandled rejections and uncaught exceptions until disposed. */
export interface ProcessErrorTrap {
  readonly errors: string[];
  dispose(): void;
}

export function trapProcessErrors(): ProcessErrorTrap {
  const errors: string[] = [];
  const onRejection = (reason: unknown) => {
    errors.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  };
  const onException = (error: Error) => {
    errors.push(`uncaughtException: ${error.stack ?? error.message}`);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    errors,
    dispose() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// File descriptors and memory

/** Soft and hard RLIMIT_NOFILE of this process, from /proc/self/limits. */
export function fdLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s{2,}/).slice(1, 3);
  const parse = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: parse(soft), hard: parse(hard) };
}

/**
 * Raises this process's soft file-descriptor limit to at least `wanted` (as root also the hard
 * one) with util-linux `prlimit`; Node has no setrlimit. Returns the soft limit in effect.
 */
export function raiseFdLimit(wanted: number): number {
  const current = fdLimits();
  if (current.soft >= wanted) return current.soft;
  const hard = Math.max(current.hard, wanted);
  for (const [soft, hardLimit] of [
    [wanted, hard],
    [Math.min(wanted, current.hard), current.hard],
  ] as const) {
    try {
      execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${soft}:${hardLimit}`], {
        stdio: 'ignore',
        timeout: 5_000,
      });
      break;
    } catch {
      // not root, or no prlimit: try the next, smaller raise
    }
  }
  return fdLimits().soft;
}

/** Open file descriptors of this process. */
export function openFdCount(): number {
  try {
    return Number(execFileSync('sh', ['-c', `ls /proc/${process.pid}/fd | wc -l`]).toString());
  } catch {
    return -1;
  }
}

let gcFn: (() => void) | undefined;

/** A full garbage collection (exposed at run time, so tests need no node flag). */
export function collectGarbage(): void {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

export interface MemorySample {
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
  readonly arrayBuffersMiB: number;
}

const MiB = 1024 * 1024;

/** Memory after two full collections. */
export async function settledMemory(): Promise<MemorySample> {
  collectGarbage();
  // One turn of the event loop lets weak callbacks and finalizers run before the second pass.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  const m = process.memoryUsage();
  return {
    rssMiB: round(m.rss / MiB),
    heapUsedMiB: round(m.heapUsed / MiB),
    externalMiB: round(m.external / MiB),
    arrayBuffersMiB: round(m.arrayBuffers / MiB),
  };
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Hubs on 127.0.0.1

/** A fixed mDNS view for tests on 127.0.0.1 (see test/helpers/static-discovery.ts). */
export function staticDiscovery(services: DiscoveredService[]): MdnsProvider {
  return new StaticDiscovery(services);
}

/** The mDNS entry of a SHIP node at 127.0.0.1:port. */
export function serviceAt(ski: Ski, port: number, shipId = 'node'): DiscoveredService {
  return sharedServiceAt(ski, port, { address: HOST, shipId });
}

export interface HubSetup {
  readonly tls: ShipTlsContext;
  readonly shipId: string;
  readonly transport?: Partial<TlsTransportOptions>;
  readonly hub?: Partial<Omit<HubOptions, 'transport' | 'localSki' | 'localShipId' | 'clock'>>;
}

/** A Hub over real TLS + WebSocket on 127.0.0.1 (port 0), started. */
export async function startHub(setup: HubSetup): Promise<Hub> {
  const hub = new Hub({
    localSki: setup.tls.ski,
    localShipId: setup.shipId,
    clock: systemClock,
    transport: new TlsTransport({
      tls: setup.tls,
      localSki: setup.tls.ski,
      localShipId: setup.shipId,
      port: 0,
      host: HOST,
      clock: systemClock,
      ...setup.transport,
    }),
    ...setup.hub,
  });
  await hub.start();
  return hub;
}

// ---------------------------------------------------------------------------------------------
// Raw (hostile) SHIP clients

/** What a raw WebSocket client saw until its connection ended. */
export interface RawOutcome {
  /** WebSocket close code (1005: none in the frame, 1006: no close frame at all). */
  readonly code: number;
  readonly reason: string;
  /** Binary messages received, as type byte + text (CMI as hex). */
  readonly messages: string[];
  readonly durationMs: number;
}

/** A WebSocket over TLS with `ctx`'s certificate, to send what no real node would. */
export interface RawShipClient {
  readonly ws: WebSocket;
  readonly socket: tls.TLSSocket;
  readonly messages: string[];
  readonly closed: Promise<RawOutcome>;
  /** Resolves when `count` messages have been received (or the connection ended). */
  received(count: number): Promise<void>;
  sendBinary(bytes: Uint8Array | string): void;
}

export function describeShipMessage(data: Buffer): string {
  if (data[0] === 0x00) return `init ${data.toString('hex')}`;
  return `${data[0]} ${data.subarray(1).toString('utf8')}`;
}

export async function rawShipClient(
  port: number,
  ctx: ShipTlsContext,
  options: { protocols?: string[]; maxPayload?: number } = {},
): Promise<RawShipClient> {
  const started = performance.now();
  const socket = await connectShipTls({ host: HOST, port, ctx });
  const ws = new WebSocket(`wss://${HOST}:${port}/ship/`, options.protocols ?? ['ship'], {
    createConnection: () => socket,
    perMessageDeflate: false,
    maxPayload: options.maxPayload ?? 64 * MiB,
  });
  const messages: string[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  ws.on('message', (data: Buffer) => {
    messages.push(describeShipMessage(data));
    for (const w of waiters.splice(0)) {
      if (messages.length >= w.count) w.resolve();
      else waiters.push(w);
    }
  });
  ws.on('error', () => undefined);
  socket.on('error', () => undefined);
  const closed = new Promise<RawOutcome>((resolve) => {
    ws.once('close', (code, reason) => {
      for (const w of waiters.splice(0)) w.resolve();
      resolve({
        code,
        reason: reason.toString(),
        messages,
        durationMs: performance.now() - started,
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`HTTP ${res.statusCode} instead of an upgrade`)),
    );
    ws.once('close', () => reject(new Error('closed before the upgrade')));
  });
  return {
    ws,
    socket,
    messages,
    closed,
    received(count) {
      if (messages.length >= count || ws.readyState === ws.CLOSED) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    sendBinary(bytes) {
      if (ws.readyState === ws.OPEN)
        ws.send(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    },
  };
}

/** A plain TCP socket to the server, with its end observed. */
export function rawTcp(port: number): Promise<{
  socket: net.Socket;
  closed: Promise<{ durationMs: number; received: Buffer }>;
}> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ host: HOST, port });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    const closed = new Promise<{ durationMs: number; received: Buffer }>((res) =>
      socket.once('close', () =>
        res({ durationMs: performance.now() - started, received: Buffer.concat(chunks) }),
      ),
    );
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** `type byte + text` as one SHIP message. */
export function ship(typeByte: number, text: string): Buffer {
  return Buffer.concat([Buffer.of(typeByte), Buffer.from(text, 'utf8')]);
}

/** Client frames no server may accept (RFC 6455 §5.2); each makes ws emit an 'error'. */
export const BAD_FRAMES: Readonly<Record<string, Buffer>> = {
  reservedOpcode: Buffer.of(0x83, 0x80, 1, 2, 3, 4),
  continuationFirst: Buffer.of(0x80, 0x82, 1, 2, 3, 4, 5, 6),
  unmasked: Buffer.of(0x82, 0x02, 0x00, 0x00),
  rsv1: Buffer.of(0xc2, 0x80, 1, 2, 3, 4),
  hugeLength: Buffer.concat([
    Buffer.of(0x82, 0xff),
    Buffer.from('7fffffffffffffff', 'hex'),
    Buffer.of(1, 2, 3, 4),
  ]),
};

/**
 * Writes 1-3 malformed WebSocket frames (or random bytes) straight to the TLS socket, below ws:
 * what a hostile peer sends after the server refused it or started closing.
 */
export function sprayMalformed(socket: tls.TLSSocket, random: () => number): void {
  const kinds = Object.values(BAD_FRAMES);
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count && !socket.destroyed; i++) {
    const pick = Math.floor(random() * (kinds.length + 1));
    socket.write(
      kinds[pick] ??
        Buffer.from(
          Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
        ),
    );
  }
}

export const CMI = Buffer.of(0x00, 0x00);
export const HELLO_READY = ship(1, '{"connectionHello":[{"phase":"ready"},{"waiting":60000}]}');
export const ANNOUNCE_MAX = ship(
  1,
  '{"messageProtocolHandshake":[{"handshakeType":"announceMax"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
);
export const SELECT = ship(
  1,
  '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
);
export const PIN_NONE = ship(1, '{"connectionPinState":[{"pinState":"none"}]}');
export const ACCESS_METHODS_REQUEST = ship(1, '{"accessMethodsRequest":[]}');
export function accessMethods(id: string): Buffer {
  return ship(1, `{"accessMethods":[{"id":${JSON.stringify(id)}}]}`);
}
export function dataMessage(payload: unknown): Buffer {
  return ship(
    2,
    `{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":${JSON.stringify(payload)}}]}`,
  );
}

/**
 * Walks a raw client through the whole handshake as a trusted SHIP client (CMI, hello ready,
 * announceMax, echo of select, PIN none, access methods), so it sits in data exchange.
 */
export async function rawHandshake(client: RawShipClient, shipId = 'raw-client'): Promise<void> {
  client.sendBinary(CMI);
  await client.received(2); // CMI + hello
  client.sendBinary(HELLO_READY);
  client.sendBinary(ANNOUNCE_MAX);
  await client.received(3); // select
  client.sendBinary(SELECT);
  client.sendBinary(PIN_NONE);
  await client.received(5); // PIN state none + accessMethodsRequest
  client.sendBinary(accessMethods(shipId));
}
