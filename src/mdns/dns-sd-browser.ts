/**
 * A small DNS-SD browser (RFC 6762 / RFC 6763) for one service type, without sockets: the builtin
 * backend feeds it decoded response packets together with the interface they arrived on, and it
 * asks for queries through an injected sender. Time comes from the injected Clock, so the cache,
 * goodbye handling and re-query schedule are unit-tested with a fake clock.
 *
 * What it does:
 * - caches PTR/SRV/TXT records of the service type and the A/AAAA records of SRV targets, per
 *   interface, with their TTLs (RFC 6762 §5.2, §10);
 * - a goodbye (TTL 0) keeps the record for one more second, then removes it (RFC 6762 §10.1);
 * - the cache-flush bit expires older copies of the same name/type one second later (§10.2);
 * - re-queries a record at 80 %, 85 %, 90 % and 95 % of its TTL (§5.2) and forgets it at 100 %;
 * - sends the PTR question with backoff: 20–120 ms after start, then 1 s, 2 s, 4 s … up to 60 min
 *   (§5.2), with known answers that have more than half their TTL left (§7.1);
 * - asks for SRV/TXT/A/AAAA that are still missing, with backoff;
 * - keeps at most `maxCacheEntries` records (the ones closest to expiry are evicted first).
 * Complete instances (PTR + SRV + TXT + at least one address) go to a {@link ServiceTable}.
 */
import type { Answer, Question } from 'dns-packet';
import { backoffDelayMs } from '../util/backoff.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { silentLogger, type MdnsLogger } from './log.js';
import type { ServiceTable } from './service-table.js';
import type { DiscoveredAddress } from './types.js';
import {
  dedupeQuestions,
  normaliseName,
  rdataKey,
  type CacheEntry,
  type CachedData,
  type CachedType,
  type FollowUp,
  type RecordMeta,
} from './dns-sd-records.js';
import {
  GOODBYE_GRACE_MS,
  FIRST_QUERY_MIN_DELAY_MS,
  FIRST_QUERY_MAX_DELAY_MS,
  REFRESH_FRACTIONS,
  REFRESH_JITTER_FRACTION,
  DEFAULT_MAX_CACHE_ENTRIES,
  FOLLOW_UP_BACKOFF,
  QUERY_BACKOFF,
} from './dns-sd-timing.js';

export {
  GOODBYE_GRACE_MS,
  FIRST_QUERY_MIN_DELAY_MS,
  FIRST_QUERY_MAX_DELAY_MS,
  QUERY_INITIAL_INTERVAL_MS,
  QUERY_MAX_INTERVAL_MS,
  REFRESH_FRACTIONS,
  REFRESH_JITTER_FRACTION,
  FOLLOW_UP_INITIAL_MS,
  FOLLOW_UP_MAX_MS,
  DEFAULT_MAX_CACHE_ENTRIES,
} from './dns-sd-timing.js';

/** A response as dns-packet decodes it (only the parts we read). */
export interface ResponsePacketLike {
  answers?: readonly Answer[] | undefined;
  additionals?: readonly Answer[] | undefined;
  authorities?: readonly Answer[] | undefined;
}

/** Sends `questions` out of every interface; `knownAnswers(ifname)` gives that link's answers. */
export type QuerySender = (
  questions: Question[],
  knownAnswers: (interfaceName: string) => Answer[],
) => void;

export interface DnsSdBrowserOptions {
  /** e.g. "_ship._tcp.local" */
  serviceType: string;
  clock: Clock;
  table: ServiceTable;
  send: QuerySender;
  logger?: MdnsLogger;
  maxCacheEntries?: number;
  /** Random source in [0, 1); injectable for deterministic tests. */
  random?: () => number;
}

export class DnsSdBrowser {
  private readonly serviceType: string;
  private readonly serviceSuffix: string;
  private readonly clock: Clock;
  private readonly table: ServiceTable;
  private readonly send: QuerySender;
  private readonly logger: MdnsLogger;
  private readonly maxCacheEntries: number;
  private readonly random: () => number;

  private readonly cache = new Map<string, CacheEntry>();
  /** interface → instance names currently reported to the table from that interface */
  private readonly reported = new Map<string, Set<string>>();
  /** `${ifname}|${instanceFqdn}` → follow-up state for incomplete instances */
  private readonly followUps = new Map<string, FollowUp>();
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private nextQueryAt = Number.POSITIVE_INFINITY;
  /** Periodic PTR queries sent since querying (re)started; the interval grows with it. */
  private queriesSent = 0;
  private running = false;

  constructor(options: DnsSdBrowserOptions) {
    this.serviceType = normaliseName(options.serviceType);
    this.serviceSuffix = `.${this.serviceType}`;
    this.clock = options.clock;
    this.table = options.table;
    this.send = options.send;
    this.logger = options.logger ?? silentLogger;
    this.maxCacheEntries = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
    this.random = options.random ?? Math.random;
  }

  /** Starts continuous querying (first query after 20–120 ms). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.restartQuerying();
  }

  /** Queries again from the shortest interval (e.g. after an interface came back). */
  restartQuerying(): void {
    if (!this.running) return;
    this.queriesSent = 0;
    const spread = FIRST_QUERY_MAX_DELAY_MS - FIRST_QUERY_MIN_DELAY_MS;
    this.nextQueryAt = this.clock.now() + FIRST_QUERY_MIN_DELAY_MS + this.random() * spread;
    this.reschedule();
  }

  /** Stops timers. The cache is kept; `clear()` drops it. */
  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.nextQueryAt = Number.POSITIVE_INFINITY;
  }

  /** Number of cached records (for tests and diagnostics). */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** Forgets everything learned on `interfaceName` (it went away). */
  forgetInterface(interfaceName: string): void {
    for (const [key, entry] of this.cache) {
      if (entry.interfaceName === interfaceName) this.cache.delete(key);
    }
    this.rebuild();
  }

  /** Handles one decoded mDNS response received on `interfaceName`. */
  handleResponse(packet: ResponsePacketLike, origin: { interfaceName: string }): void {
    const now = this.clock.now();
    const records = [
      ...(packet.answers ?? []),
      ...(packet.additionals ?? []),
      ...(packet.authorities ?? []),
    ];
    const srvTargets = new Set<string>();
    for (const entry of this.cache.values()) {
      if (entry.type === 'SRV') {
        srvTargets.add(normaliseName((entry.data as { target: string }).target));
      }
    }
    // Service records first, so that addresses in the same packet find their SRV target.
    const relevant: Array<{ rr: RecordMeta; type: CachedType; data: CachedData }> = [];
    for (const rr of records) {
      const name = normaliseName(rr.name);
      if (rr.type === 'PTR' && name === this.serviceType && typeof rr.data === 'string') {
        if (normaliseName(rr.data).endsWith(this.serviceSuffix)) {
          relevant.push({ rr, type: 'PTR', data: rr.data.replace(/\.$/, '') });
        }
      } else if (rr.type === 'SRV' && name.endsWith(this.serviceSuffix)) {
        const srv = rr.data;
        if (typeof srv.port === 'number' && typeof srv.target === 'string') {
          const target = srv.target.replace(/\.$/, '');
          srvTargets.add(target.toLowerCase());
          relevant.push({ rr, type: 'SRV', data: { port: srv.port, target } });
        }
      } else if (rr.type === 'TXT' && name.endsWith(this.serviceSuffix)) {
        const parts = Array.isArray(rr.data) ? rr.data : [rr.data];
        relevant.push({
          rr,
          type: 'TXT',
          data: parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)),
        });
      }
    }
    for (const rr of records) {
      if ((rr.type === 'A' || rr.type === 'AAAA') && typeof rr.data === 'string') {
        if (srvTargets.has(normaliseName(rr.name))) {
          relevant.push({ rr, type: rr.type, data: rr.data });
        }
      }
    }
    if (relevant.length === 0) return;

    // RFC 6762 §10.2: the cache-flush bit ends older copies of the same name and type.
    for (const { rr, type } of relevant) {
      if (rr.flush !== true) continue;
      const name = normaliseName(rr.name);
      for (const entry of this.cache.values()) {
        if (
          entry.name === name &&
          entry.type === type &&
          entry.interfaceName === origin.interfaceName &&
          now - entry.receivedAt > GOODBYE_GRACE_MS &&
          entry.expiresAt > now + GOODBYE_GRACE_MS
        ) {
          entry.expiresAt = now + GOODBYE_GRACE_MS;
        }
      }
    }

    for (const { rr, type, data } of relevant) {
      const name = normaliseName(rr.name);
      const key = `${origin.interfaceName}|${type}|${name}|${rdataKey(type, data)}`;
      const ttlS = typeof rr.ttl === 'number' ? rr.ttl : 0;
      const existing = this.cache.get(key);
      if (ttlS === 0) {
        // Goodbye (RFC 6762 §10.1).
        if (existing !== undefined)
          existing.expiresAt = Math.min(existing.expiresAt, now + GOODBYE_GRACE_MS);
        continue;
      }
      const ttlMs = ttlS * 1000;
      this.cache.set(key, {
        key,
        name,
        rawName: rr.name.replace(/\.$/, ''),
        type,
        data,
        ttlMs,
        receivedAt: now,
        expiresAt: now + ttlMs,
        interfaceName: origin.interfaceName,
        refreshStep: 0,
        jitter: this.random() * REFRESH_JITTER_FRACTION,
      });
    }
    this.evictOverflow();
    this.rebuild();
  }

  private evictOverflow(): void {
    const excess = this.cache.size - this.maxCacheEntries;
    if (excess <= 0) return;
    const oldestFirst = [...this.cache.values()].sort((a, b) => a.expiresAt - b.expiresAt);
    for (const entry of oldestFirst.slice(0, excess)) this.cache.delete(entry.key);
    this.logger.warn(
      { evicted: excess, limit: this.maxCacheEntries },
      'mdns: record cache full, evicted the records closest to expiry',
    );
  }

  private live(interfaceName: string, name: string, type: CachedType): CacheEntry[] {
    const now = this.clock.now();
    const out: CacheEntry[] = [];
    for (const entry of this.cache.values()) {
      if (
        entry.interfaceName === interfaceName &&
        entry.type === type &&
        entry.name === name &&
        entry.expiresAt > now
      ) {
        out.push(entry);
      }
    }
    return out.sort((a, b) => b.receivedAt - a.receivedAt);
  }

  private instanceName(fqdn: string): string {
    return fqdn.slice(0, fqdn.length - this.serviceSuffix.length);
  }

  /** Recomputes what each interface sees and reports it to the table. */
  private rebuild(): void {
    const now = this.clock.now();
    const interfaces = new Set<string>();
    for (const entry of this.cache.values()) interfaces.add(entry.interfaceName);
    for (const ifname of this.reported.keys()) interfaces.add(ifname);
    const questions: Question[] = [];
    const wantedFollowUps = new Set<string>();

    for (const ifname of interfaces) {
      const seen = new Set<string>();
      for (const ptr of this.live(ifname, this.serviceType, 'PTR')) {
        const fqdn = ptr.data as string;
        const instance = this.instanceName(fqdn);
        const name = fqdn.toLowerCase();
        const srv = this.live(ifname, name, 'SRV')[0];
        const txt = this.live(ifname, name, 'TXT')[0];
        const target =
          srv === undefined ? undefined : (srv.data as { port: number; target: string });
        const addresses: DiscoveredAddress[] = [];
        if (target !== undefined) {
          const host = normaliseName(target.target);
          for (const a of this.live(ifname, host, 'A')) {
            addresses.push({ address: a.data as string, family: 4, interfaceName: ifname });
          }
          for (const aaaa of this.live(ifname, host, 'AAAA')) {
            addresses.push({ address: aaaa.data as string, family: 6, interfaceName: ifname });
          }
        }
        if (
          srv !== undefined &&
          txt !== undefined &&
          target !== undefined &&
          addresses.length > 0
        ) {
          seen.add(instance);
          this.followUps.delete(`${ifname}|${name}`);
          this.table.observe(instance, ifname, {
            hostName: target.target,
            port: target.port,
            txt: txt.data as Buffer[],
            addresses,
          });
          continue;
        }
        // Incomplete: ask for what is missing, with backoff.
        const followKey = `${ifname}|${name}`;
        wantedFollowUps.add(followKey);
        const missing = `${srv === undefined}|${txt === undefined}|${addresses.length === 0}`;
        let follow = this.followUps.get(followKey);
        if (follow?.missing !== missing) {
          // Something new arrived: ask for the rest at once, then back off again.
          follow = { attempts: 0, nextAt: now, missing };
          this.followUps.set(followKey, follow);
        }
        if (this.running && follow.nextAt <= now) {
          if (srv === undefined) questions.push({ name: fqdn, type: 'SRV' });
          if (txt === undefined) questions.push({ name: fqdn, type: 'TXT' });
          if (target !== undefined && addresses.length === 0) {
            questions.push(
              { name: target.target, type: 'A' },
              { name: target.target, type: 'AAAA' },
            );
          }
          follow.attempts += 1;
          follow.nextAt = now + backoffDelayMs(FOLLOW_UP_BACKOFF, follow.attempts);
        }
      }
      const before = this.reported.get(ifname) ?? new Set<string>();
      for (const instance of before) {
        if (!seen.has(instance)) this.table.forget(instance, ifname);
      }
      if (seen.size > 0) this.reported.set(ifname, seen);
      else this.reported.delete(ifname);
    }
    for (const key of [...this.followUps.keys()]) {
      if (!wantedFollowUps.has(key)) this.followUps.delete(key);
    }
    if (questions.length > 0) this.sendQuestions(dedupeQuestions(questions), false);
    this.reschedule();
  }

  private sendQuestions(questions: Question[], withKnownAnswers: boolean): void {
    const now = this.clock.now();
    const knownAnswers = (interfaceName: string): Answer[] => {
      if (!withKnownAnswers) return [];
      // RFC 6762 §7.1: known answers with more than half their TTL left.
      const answers: Answer[] = [];
      for (const entry of this.cache.values()) {
        if (
          entry.type === 'PTR' &&
          entry.interfaceName === interfaceName &&
          entry.expiresAt - now > entry.ttlMs / 2
        ) {
          answers.push({
            name: entry.rawName,
            type: 'PTR',
            ttl: Math.floor((entry.expiresAt - now) / 1000),
            data: entry.data as string,
          });
        }
      }
      return answers;
    };
    this.logger.trace({ questions }, 'mdns: query');
    try {
      this.send(questions, knownAnswers);
    } catch (error: unknown) {
      this.logger.warn({ err: error }, 'mdns: sending a query failed');
    }
  }

  /** Timer callback: periodic PTR query, refresh queries, expiry, follow-ups. */
  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    const refresh: Question[] = [];
    let expired = false;
    for (const [key, entry] of this.cache) {
      if (entry.expiresAt <= now) {
        this.cache.delete(key);
        expired = true;
        continue;
      }
      const step = this.refreshStepDue(entry, now);
      if (step > entry.refreshStep) {
        entry.refreshStep = step;
        if (this.running) refresh.push({ name: entry.rawName, type: entry.type });
      }
    }
    if (this.running && now >= this.nextQueryAt) {
      refresh.push({ name: this.serviceType, type: 'PTR' });
      this.queriesSent += 1;
      this.nextQueryAt = now + backoffDelayMs(QUERY_BACKOFF, this.queriesSent);
    }
    if (refresh.length > 0) this.sendQuestions(dedupeQuestions(refresh), true);
    // rebuild() also sends due follow-ups and reschedules.
    if (expired || this.followUps.size > 0) this.rebuild();
    else this.reschedule();
  }

  private refreshStepDue(entry: CacheEntry, now: number): number {
    // A goodbye shortened expiresAt below the original TTL: no refresh for it.
    if (entry.expiresAt - entry.receivedAt < entry.ttlMs) return entry.refreshStep;
    const elapsed = (now - entry.receivedAt) / entry.ttlMs;
    let step = 0;
    for (const fraction of REFRESH_FRACTIONS) {
      if (elapsed >= fraction + entry.jitter) step += 1;
    }
    return step;
  }

  private nextWake(): number {
    let at = this.running ? this.nextQueryAt : Number.POSITIVE_INFINITY;
    for (const entry of this.cache.values()) {
      at = Math.min(at, entry.expiresAt);
      if (!this.running) continue;
      const shortened = entry.expiresAt - entry.receivedAt < entry.ttlMs;
      const fraction = REFRESH_FRACTIONS[entry.refreshStep];
      if (!shortened && fraction !== undefined) {
        at = Math.min(at, entry.receivedAt + (fraction + entry.jitter) * entry.ttlMs);
      }
    }
    if (this.running) {
      for (const follow of this.followUps.values()) at = Math.min(at, follow.nextAt);
    }
    return at;
  }

  private reschedule(): void {
    const at = this.nextWake();
    if (at === this.timerAt && this.timer !== undefined) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = at;
    if (!Number.isFinite(at)) return;
    const delay = Math.max(0, Math.ceil(at - this.clock.now()));
    this.timer = this.clock.setTimer('mdns-browser', delay, () => this.onTimer());
  }
}
