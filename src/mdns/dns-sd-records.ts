/**
 * The records the DNS-SD browser (dns-sd-browser.ts) caches: one entry per received PTR, SRV,
 * TXT, A or AAAA record and interface, keyed by name, type and rdata (RFC 6762 §10.2).
 */
import type { Question } from 'dns-packet';

export type CachedType = 'PTR' | 'SRV' | 'TXT' | 'A' | 'AAAA';
export type CachedData = string | { port: number; target: string } | Buffer[];

export interface CacheEntry {
  key: string;
  /** lowercased, no trailing dot */
  name: string;
  /** name as received (for questions and display) */
  rawName: string;
  type: CachedType;
  data: CachedData;
  ttlMs: number;
  receivedAt: number;
  expiresAt: number;
  interfaceName: string;
  /** How many of REFRESH_FRACTIONS have been asked for. */
  refreshStep: number;
  /** Jitter for this record's refresh points. */
  jitter: number;
}

/** The header fields of a resource record that we read. */
export interface RecordMeta {
  name: string;
  ttl?: number | undefined;
  flush?: boolean | undefined;
}

export interface FollowUp {
  attempts: number;
  nextAt: number;
  /** Which of SRV/TXT/address were missing when we last asked. */
  missing: string;
}

export function normaliseName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

export function rdataKey(type: CachedType, data: CachedData): string {
  if (type === 'TXT') {
    return Buffer.concat(
      (data as Buffer[]).flatMap((part) => [Buffer.from([part.length]), part]),
    ).toString('hex');
  }
  if (type === 'SRV') {
    const srv = data as { port: number; target: string };
    return `${srv.port}|${normaliseName(srv.target)}`;
  }
  return (data as string).toLowerCase();
}

/** Each question once (type and name, case-insensitive), in order. */
export function dedupeQuestions(questions: Question[]): Question[] {
  const seen = new Set<string>();
  return questions.filter((q) => {
    const key = `${q.type}|${q.name.toLowerCase()}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
