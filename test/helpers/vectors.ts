/**
 * Loader for the golden wire recordings in test/golden/fixtures/ (two ship-go 5963bf4 nodes on
 * loopback, TLS decrypted; see the README.md there).
 *
 * Each recording's section A lists every SHIP message exactly as passed to or from the WebSocket
 * layer, seen from the client (SHIP §13.4.2: one binary WebSocket message = one SHIP message):
 *
 * ```
 * 2026-11-24T19:41:32.044443Z +     2.032ms [client] C->S len=2 type=0x00(INIT) hex:00
 *     raw-hex: 0000
 * 2026-11-24T19:41:32.044898Z +     2.487ms [client] C->S len=58 type=0x01(CONTROL) {"connectionHello":…}
 * 2026-11-24T19:42:16.550921Z +  1003.401ms [client] C->S websocket CLOSE frame code=4452 reason="…", then TCP/TLS close
 * ```
 *
 * A message's bytes come from its `raw-hex:` line when there is one (init messages), otherwise
 * they are the type byte followed by the UTF-8 JSON exactly as printed. Every other timestamped
 * line of section A (WebSocket open, close frames, local closes) becomes an event. The `len=`
 * field is checked against the bytes, so a damaged fixture fails loudly instead of silently
 * testing something else.
 *
 * Replaying a recording through the handshake machine: play the client with the `S->C` messages
 * as input and expect the `C->S` messages as output (or the server the other way round); `atMs`
 * gives the spacing for a FakeClock, events say how the session ended.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Direction of a recorded message: client to server or server to client. */
export type VectorDirection = 'C->S' | 'S->C';

/** One SHIP message of a recording. */
export interface VectorMessage {
  /** Milliseconds since the start of the client's wire log. */
  atMs: number;
  direction: VectorDirection;
  /** The whole WebSocket message payload: type byte, then the value. */
  bytes: Uint8Array;
}

/** One non-message line of section A (WebSocket open, close frame, local close). */
export interface VectorEvent {
  atMs: number;
  /** The line after the `[client]` tag, e.g. `C->S websocket CLOSE frame code=4452 reason="…"`. */
  text: string;
  /** For a line reporting a WebSocket CLOSE frame: its close code. */
  wsCloseCode?: number;
}

/** A parsed recording. */
export interface Vector {
  /** The recording's file name (as passed to {@link loadVector}). */
  fileName: string;
  /** The title line of the file. */
  title: string;
  /** SKIs (40 lowercase hex digits) and SHIP IDs of the recording's throwaway certificates. */
  serverSki: string;
  clientSki: string;
  serverShipId: string;
  clientShipId: string;
  /** Section A messages in recorded order. Empty for recordings without a SHIP session (mDNS). */
  messages: VectorMessage[];
  /** Section A events in recorded order. */
  events: VectorEvent[];
}

/**
 * The fixture folder, in the source tree. Tests run compiled from build/test/helpers/, and tsc
 * does not copy .txt files, so the folder is found by walking up from this file until
 * test/golden/fixtures exists: that works from build/test/helpers/ and from test/helpers/ (tsx).
 */
export const FIXTURES_DIR: string = findFixturesDir();

function findFixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'golden', 'fixtures');
    if (existsSync(join(candidate, 'README.md'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`test/golden/fixtures not found above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

/** File names of every recording (`*.txt`) in the fixture folder, sorted. */
export function listVectors(): string[] {
  return readdirSync(FIXTURES_DIR)
    .filter((name) => name.endsWith('.txt'))
    .sort();
}

/** Bytes from hex digits (whitespace allowed); throws on anything else. */
export function fromHex(hex: string): Uint8Array {
  const digits = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`not hex bytes: "${hex}"`);
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Lowercase hex of bytes, for assertion messages. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** A SHIP message from a type byte and its JSON text (UTF-8), as the recordings print them. */
export function shipBytes(typeByte: number, json: string): Uint8Array {
  const text = new TextEncoder().encode(json);
  const bytes = new Uint8Array(text.length + 1);
  bytes[0] = typeByte;
  bytes.set(text, 1);
  return bytes;
}

/** `<ISO time> + <ms>ms [<side>] <rest>` */
const TIMED_LINE = /^\d{4}-\d\d-\d\dT\S+Z \+\s*(\d+(?:\.\d+)?)ms \[(\w+)\] (.*)$/;
/** `C->S len=58 type=0x01(CONTROL) {...}` (the JSON may be absent: `hex:00` for init). */
const MESSAGE_LINE = /^(C->S|S->C) len=(\d+) type=0x([0-9a-fA-F]{2})\(\w+\)(?: (.*))?$/;
const RAW_HEX_LINE = /^\s+raw-hex: ([0-9a-fA-F]+)\s*$/;
const CLOSE_FRAME = /websocket CLOSE frame code=(\d+)/;
/** Header: `server SKI: <ski>   (cert …, SHIP ID <id>)`. */
const HEADER_IDENTITY = /^(server|client) SKI: ([0-9a-f]{40})\s+\(.*SHIP ID ([^\s)]+)\)/;
/** Node log fallback (the mDNS recording has no header): `[server] INFO  local SKI: … local SHIP ID: …`. */
const LOG_IDENTITY = /\[(server|client)\] INFO\s+local SKI: ([0-9a-f]{40})\s+local SHIP ID: (\S+)/;

function fail(fileName: string, what: string): never {
  throw new Error(`${fileName}: ${what}`);
}

/**
 * Parses one recording from the fixture folder, e.g. `loadVector('shipgo-shipgo.txt')`.
 *
 * @throws Error if the file is missing, lacks a title or the identities of both nodes, or if a
 * message line's `len=` does not match its bytes.
 */
export function loadVector(fileName: string): Vector {
  const path = resolve(FIXTURES_DIR, fileName);
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);

  // The title is the first line inside the opening ===== banner.
  const title = lines.find((line) => line.trim() !== '' && !/^=+$/.test(line.trim()))?.trim();
  if (title === undefined) fail(fileName, 'no title line');

  const identity: Record<'server' | 'client', { ski?: string; shipId?: string }> = {
    server: {},
    client: {},
  };
  for (const line of lines) {
    const match = HEADER_IDENTITY.exec(line) ?? LOG_IDENTITY.exec(line);
    if (match === null) continue;
    const [, name, ski, shipId] = match as unknown as [string, 'server' | 'client', string, string];
    const side = identity[name];
    // The header comes first and wins over log lines.
    side.ski ??= ski;
    side.shipId ??= shipId;
  }

  const messages: VectorMessage[] = [];
  const events: VectorEvent[] = [];
  const start = lines.findIndex((line) => /^ A\. /.test(line));
  if (start >= 0) {
    for (let i = start + 1; i < lines.length; i++) {
      const line = lines[i] as string;
      if (/^ [B-Z]\. /.test(line)) break;
      const timed = TIMED_LINE.exec(line);
      if (timed === null) continue;
      const atMs = Number(timed[1]);
      const rest = timed[3] as string;
      const message = MESSAGE_LINE.exec(rest);
      if (message === null) {
        const event: VectorEvent = { atMs, text: rest };
        const close = CLOSE_FRAME.exec(rest);
        if (close !== null) event.wsCloseCode = Number(close[1]);
        events.push(event);
        continue;
      }
      const typeByte = parseInt(message[3] as string, 16);
      const rawHex = RAW_HEX_LINE.exec(lines[i + 1] ?? '');
      let bytes: Uint8Array;
      if (rawHex !== null) {
        bytes = fromHex(rawHex[1] as string);
        i++;
      } else {
        if (message[4] === undefined)
          fail(fileName, `line ${i + 1}: message without value or raw-hex`);
        bytes = shipBytes(typeByte, message[4]);
      }
      const declared = Number(message[2]);
      if (bytes.length !== declared) {
        fail(fileName, `line ${i + 1}: len=${declared} but the line holds ${bytes.length} bytes`);
      }
      if (bytes[0] !== typeByte)
        fail(fileName, `line ${i + 1}: raw bytes do not start with the type byte`);
      messages.push({ atMs, direction: message[1] as VectorDirection, bytes });
    }
  }

  const { server, client } = identity;
  if (server.ski === undefined || server.shipId === undefined)
    fail(fileName, 'no server SKI / SHIP ID');
  if (client.ski === undefined || client.shipId === undefined)
    fail(fileName, 'no client SKI / SHIP ID');
  return {
    fileName,
    title,
    serverSki: server.ski,
    clientSki: client.ski,
    serverShipId: server.shipId,
    clientShipId: client.shipId,
    messages,
    events,
  };
}
