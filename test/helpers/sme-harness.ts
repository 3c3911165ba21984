import { decodeMessage, encodeMessage } from '../../src/ship/codec/index.js';
import {
  initialState,
  smeConfig,
  step,
  type SmeConfig,
  type SmeEffect,
  type SmeEvent,
  type SmeInput,
  type SmeState,
  type TimerId,
} from '../../src/ship/handshake/index.js';
import type { ShipMessage } from '../../src/ship/messages.js';

type InputWithoutTime = SmeInput extends infer I
  ? I extends SmeInput
    ? Omit<I, 'now'>
    : never
  : never;

/** The timer with the earliest deadline in a map of SME timer deadlines, if any. */
export function earliestTimer(
  timers: ReadonlyMap<TimerId, number>,
): { id: TimerId; at: number } | undefined {
  let earliest: { id: TimerId; at: number } | undefined;
  for (const [id, at] of timers)
    if (earliest === undefined || at < earliest.at) earliest = { id, at };
  return earliest;
}

/**
 * Drives one pure SME with virtual time: timers are kept as deadlines and fired by advance().
 * Everything the machine sends is decoded and kept, so tests read messages, not bytes.
 */
export class SmeHarness {
  state: SmeState;
  now = 0;
  readonly timers = new Map<TimerId, number>();
  readonly sent: ShipMessage[] = [];
  readonly sentBytes: Uint8Array[] = [];
  readonly events: SmeEvent[] = [];
  readonly effects: SmeEffect[] = [];
  closed: { code: number; reason: string } | undefined;
  /** Called for every byte message the machine sends (SmePair wires the partner here). */
  onSend: ((bytes: Uint8Array) => void) | undefined;

  constructor(config: Partial<SmeConfig> & Pick<SmeConfig, 'role'>) {
    this.state = initialState(
      smeConfig({ localShipId: `ship-${config.role}`, initialTrust: 'trusted', ...config }),
    );
  }

  input(input: InputWithoutTime): readonly SmeEffect[] {
    const result = step(this.state, { ...input, now: this.now });
    this.state = result.state;
    for (const effect of result.effects) this.apply(effect);
    return result.effects;
  }

  start(): readonly SmeEffect[] {
    return this.input({ kind: 'start' });
  }

  receive(message: ShipMessage | Uint8Array): readonly SmeEffect[] {
    const bytes = message instanceof Uint8Array ? message : encodeMessage(message);
    return this.input({ kind: 'message', bytes });
  }

  receiveJson(typeByte: number, json: string): readonly SmeEffect[] {
    const text = new TextEncoder().encode(json);
    const bytes = new Uint8Array(text.length + 1);
    bytes[0] = typeByte;
    bytes.set(text, 1);
    return this.input({ kind: 'message', bytes });
  }

  decide(approved: boolean): readonly SmeEffect[] {
    return this.input({ kind: 'trustDecision', approved });
  }

  /** Moves virtual time, firing due timers in deadline order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const next = earliestTimer(this.timers);
      if (next === undefined || next.at > target) break;
      this.now = next.at;
      this.timers.delete(next.id);
      this.input({ kind: 'timer', id: next.id });
    }
    this.now = target;
  }

  /** Sent messages since the last call. */
  takeSent(): ShipMessage[] {
    return this.sent.splice(0);
  }

  /** The WebSocket close code the machine asked for, if it closed. */
  closeCode(): number | undefined {
    return this.closed?.code;
  }

  eventTypes(): string[] {
    return this.events.map((e) => e.type);
  }

  lastClosedEvent(): Extract<SmeEvent, { type: 'closed' }> | undefined {
    return this.events.filter((e) => e.type === 'closed').at(-1);
  }

  private apply(effect: SmeEffect): void {
    this.effects.push(effect);
    switch (effect.kind) {
      case 'send': {
        this.sentBytes.push(effect.bytes);
        const decoded = decodeMessage(effect.bytes);
        if (!decoded.ok) throw new Error(`machine sent undecodable bytes: ${decoded.error.detail}`);
        this.sent.push(decoded.message);
        this.onSend?.(effect.bytes);
        return;
      }
      case 'startTimer':
        this.timers.set(effect.id, this.now + effect.ms);
        return;
      case 'cancelTimer':
        this.timers.delete(effect.id);
        return;
      case 'closeTransport':
        this.closed ??= { code: effect.code, reason: effect.reason };
        return;
      case 'event':
        this.events.push(effect.event);
        return;
    }
  }
}

/**
 * Two machines wired back to back through an in-memory queue, with one virtual clock. Messages
 * are delivered after `latencyMs`, in order per direction.
 */
export class SmePair {
  readonly client: SmeHarness;
  readonly server: SmeHarness;
  private readonly queue: Array<{ at: number; to: SmeHarness; bytes: Uint8Array }> = [];
  now = 0;

  constructor(
    client: Partial<SmeConfig>,
    server: Partial<SmeConfig>,
    private readonly latencyMs = 1,
  ) {
    this.client = new SmeHarness({ ...client, role: 'client' });
    this.server = new SmeHarness({ ...server, role: 'server' });
    this.client.onSend = (bytes) => this.enqueue(this.server, bytes);
    this.server.onSend = (bytes) => this.enqueue(this.client, bytes);
  }

  private enqueue(to: SmeHarness, bytes: Uint8Array): void {
    this.queue.push({ at: this.now + this.latencyMs, to, bytes });
  }

  start(): void {
    this.server.start();
    this.client.start();
  }

  /** Runs the pair for `ms` of virtual time, delivering messages and firing timers in order. */
  run(ms: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const nextMsg = this.queue.reduce<number>((min, q) => Math.min(min, q.at), Infinity);
      const nextTimer = Math.min(nextDeadline(this.client), nextDeadline(this.server));
      const next = Math.min(nextMsg, nextTimer);
      if (next > end || next === Infinity) break;
      this.now = next;
      if (nextMsg <= nextTimer) {
        const index = this.queue.findIndex((q) => q.at === nextMsg);
        const [item] = this.queue.splice(index, 1);
        if (item === undefined) break;
        item.to.now = this.now;
        if (item.to.closed === undefined) item.to.receive(item.bytes);
        this.closeIfPartnerClosed();
      } else {
        for (const side of [this.client, this.server]) {
          if (nextDeadline(side) === next) {
            side.advance(next - side.now);
          }
        }
        this.closeIfPartnerClosed();
      }
    }
    this.now = end;
    this.client.now = Math.max(this.client.now, end);
    this.server.now = Math.max(this.server.now, end);
  }

  /** When one side closed its transport and nothing is in flight, the other sees the close. */
  private closeIfPartnerClosed(): void {
    for (const [side, other] of [
      [this.client, this.server],
      [this.server, this.client],
    ] as const) {
      if (side.closed !== undefined && other.closed === undefined && other.state.sub !== 'CLOSED') {
        const inFlight = this.queue.some((q) => q.to === other);
        if (!inFlight) {
          other.now = this.now;
          other.input({
            kind: 'transportClosed',
            code: side.closed.code,
            reason: side.closed.reason,
          });
        }
      }
    }
  }
}

function nextDeadline(side: SmeHarness): number {
  let min = Infinity;
  for (const at of side.timers.values()) min = Math.min(min, at);
  return min;
}
