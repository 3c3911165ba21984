/**
 * Shared bits of the child programs the mDNS interop test runs inside a network namespace
 * (`ip netns exec <ns> node build/test/integration/mdns/<child>.js '<json config>'`).
 * They talk to the test through JSON lines on stdout; logs go to stderr.
 */
import { pino } from 'pino';
import type { MdnsProviderChoice } from '../../../src/mdns/index.js';

export interface ChildConfig {
  provider: MdnsProviderChoice;
  interfaces: string[];
  /** Hard bound on the child's lifetime. */
  lifetimeMs: number;
  ski?: string;
  shipId?: string;
  instanceName?: string;
  port?: number;
}

export function readConfig(): ChildConfig {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: node child.js <json config>');
  return JSON.parse(raw) as ChildConfig;
}

export function emit(ev: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ ev, t: Date.now(), ...data })}\n`);
}

export const childLogger = pino(
  { level: 'debug', base: { child: process.argv[1] } },
  pino.destination(2),
);

/** Runs `stop` on SIGTERM/SIGINT or when the lifetime ends; exits 0 after it (3 s at most). */
export function onStop(lifetimeMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const run = (reason: string) => {
    if (stopping) return;
    stopping = true;
    emit('stopping', { reason });
    setTimeout(() => {
      emit('stop-timeout');
      process.exit(2);
    }, 3_000).unref();
    stop().then(
      () => {
        emit('closed');
        process.exit(0);
      },
      (error: unknown) => {
        emit('error', { where: 'stop', message: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => run('SIGTERM'));
  process.on('SIGINT', () => run('SIGINT'));
  setTimeout(() => run('lifetime'), lifetimeMs).unref();
  // Keep the process alive until stopped (the providers' timers are unref'd).
  setInterval(() => undefined, 1_000);
}

process.on('uncaughtException', (error) => {
  emit('error', { where: 'uncaughtException', message: String(error.stack ?? error) });
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  emit('error', { where: 'unhandledRejection', message: String(error) });
  process.exit(71);
});
