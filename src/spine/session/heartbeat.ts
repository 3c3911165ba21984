/**
 * Heartbeats of a SPINE session (see session.ts): ours, notified to every subscriber (§8.1,
 * §8.2), and the partner's, watched on our clock (§8.3).
 */
import { isObject, own } from '../codec/values.js';
import { sameFeature, type FeatureAddress } from '../model/address.js';
import { findFeature, supportedFunction } from '../model/device.js';
import type { RelationEntry } from '../node-management/relations.js';
import { formatDurationSeconds, parseDurationMs } from './duration.js';
import {
  DEFAULT_HEARTBEAT_LOSS_MS,
  HEARTBEAT_SEND_TIMER,
  HEARTBEAT_WATCH_TIMER,
  type HeartbeatWatch,
} from './types.js';
import type { Step } from './step.js';
import { HEARTBEAT, type Mutable } from './step.js';

export function heartbeatIntervalMs(s: Step): number {
  // §8.2: send at half the announced timeout (pitfall 4: at the timeout is too late).
  return Math.max(1, Math.floor(s.draft.config.heartbeatTimeoutMs / 2));
}

/** `deviceDiagnosisHeartbeatData` as we notify it (§8.1). */
export function heartbeatData(s: Step): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  if (s.timestamp !== undefined) data.timestamp = s.timestamp;
  if (s.draft.heartbeatCounter > 0) data.heartbeatCounter = s.draft.heartbeatCounter;
  data.heartbeatTimeout = formatDurationSeconds(s.draft.config.heartbeatTimeoutMs);
  return data;
}

/** The partner's subscriptions to a heartbeat feature of ours. */
export function heartbeatSubscribers(s: Step): RelationEntry[] {
  return s.draft.subscriptions.filter((entry) => {
    const feature = findFeature(s.local, entry.server.entity ?? [], entry.server.feature ?? -1);
    return feature !== undefined && supportedFunction(feature, HEARTBEAT) !== undefined;
  });
}

export function sendHeartbeat(s: Step, to: readonly RelationEntry[]): void {
  const value = heartbeatData(s);
  for (const entry of to) {
    s.request({
      classifier: 'notify',
      source: entry.server,
      destination: entry.client,
      cmd: { data: { name: HEARTBEAT, value } },
    });
  }
}

/** A new heartbeat subscriber gets one at once; the timer runs while anyone is subscribed. */
export function startHeartbeatFor(s: Step, entry: RelationEntry): void {
  if (!s.draft.subscriptions.includes(entry)) return;
  s.draft.heartbeatCounter += 1;
  sendHeartbeat(s, [entry]);
  if (!s.draft.heartbeatRunning) {
    s.draft.heartbeatRunning = true;
    s.startTimer(HEARTBEAT_SEND_TIMER, heartbeatIntervalMs(s));
  }
}

/** A heartbeat of the watched feature (§8.3): fresh if its counter moved (or it has none). */
export function onRemoteHeartbeat(s: Step, source: FeatureAddress, data: unknown): void {
  const watch = s.remote.heartbeat;
  if (watch === undefined || !sameFeature(watch.feature, source) || !isObject(data)) return;
  const counterValue = own(data, 'heartbeatCounter');
  const counter =
    typeof counterValue === 'number' || typeof counterValue === 'bigint'
      ? String(counterValue)
      : undefined;
  if (counter !== undefined && counter === watch.counter) return;
  const timeout = own(data, 'heartbeatTimeout');
  const announcedTimeoutMs = typeof timeout === 'string' ? parseDurationMs(timeout) : undefined;
  const lossMs =
    s.draft.config.heartbeatLossMs ??
    (announcedTimeoutMs !== undefined && announcedTimeoutMs > 0
      ? 2 * announcedTimeoutMs
      : DEFAULT_HEARTBEAT_LOSS_MS);
  const next: Mutable<HeartbeatWatch> = {
    feature: watch.feature,
    lastSeenAt: s.now,
    lossMs,
    lost: false,
  };
  if (announcedTimeoutMs !== undefined) next.announcedTimeoutMs = announcedTimeoutMs;
  if (counter !== undefined) next.counter = counter;
  const timestamp = own(data, 'timestamp');
  if (typeof timestamp === 'string') next.remoteTimestamp = timestamp;
  s.remote.heartbeat = next;
  if (watch.lost) s.emit({ kind: 'heartbeatRestored', feature: watch.feature });
  s.startTimer(HEARTBEAT_WATCH_TIMER, lossMs);
}
