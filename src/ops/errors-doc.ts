/**
 * Renders docs/errors.md from the failure catalogue (src/errors.ts), so the page lists exactly
 * the codes ship-hub produces, with the class, close code, metric label and hint the code uses.
 * `node scripts/gen-errors-doc.mjs` writes the file; test/unit/ops/errors-doc.test.ts fails when
 * the committed file differs.
 */
import { FAILURES, type ShipHubErrorCode } from '../errors.js';
import type { FailureInfo, FailureSection } from '../util/errors.js';

const SECTIONS: readonly { readonly section: FailureSection; readonly title: string }[] = [
  { section: 'peer', title: 'Peer faults' },
  { section: 'trust', title: 'Trust' },
  { section: 'timeout', title: 'Timeouts' },
  { section: 'transport', title: 'Transport and connection state' },
  { section: 'local', title: 'Local state: configuration and files' },
  { section: 'operations', title: 'Admin API and CLI' },
];

const INTRO = `# Error codes

<!-- Generated from the failure tables (src/ship/errors.ts, src/util/errors.ts, src/ops/errors.ts)
     by \`node scripts/gen-errors-doc.mjs\` after \`npm run build\`. Do not edit by hand: a unit
     test fails when this file differs from the tables. -->

Every error ship-hub raises or logs carries a stable code \`SHIPHUB_ERR_*\`. Codes never change
meaning; a new one is added to a failure table and this page is generated again. Each code belongs
to one error class, which says **who is at fault**:

| Class | Fault | Typical action |
|---|---|---|
| \`ProtocolError\` | the peer sent something SHIP does not allow | check the device's firmware / vendor |
| \`TrustError\` | identity unknown, denied, revoked or inconsistent | pair, re-pair or investigate |
| \`TimeoutError\` | a SHIP or transport timer expired | check the network and the device |
| \`ConfigError\` | configuration or a persisted file is invalid | fix the file named in the message |
| \`TransportError\` | sockets, TLS, WebSocket, D-Bus failed | check network, ports, services |
| \`InternalError\` | a bug in ship-hub | report it with the log |
| \`ShipHubError\` | none: a request that cannot be carried out now or is malformed | see the code |

Errors may also carry \`hint\` (what to do), \`phase\` (handshake phase) and \`closeCode\` (the
WebSocket close code sent). In JSON logs the code is the \`code\` field; the admin API returns
\`{ "error": { "code", "message" } }\`. \`failureInfo(error)\` (exported by the package) returns a
code's row of these tables: class, close, metric label, HTTP status and hint.

**Close** is what this node sends when the failure ends a SHIP connection: the WebSocket close
code and reason. SHIP defines no close codes of its own; these follow the reference
implementation (4001 after a handshake error, 4452 after a hello abort, 4500 "User close" before
data exchange). "the message" means a text naming the situation: the failure's own message cut to
120 characters, or the reason the hub gives when it ends a connection with that code.
`;

function closeText(info: FailureInfo): string {
  const close = info.close;
  if (close === undefined) return '—';
  const reason = close.reason === undefined ? 'the message' : `"${close.reason}"`;
  const undecodable =
    close.undecodableReason === undefined
      ? ''
      : `; undecodable message: "${close.undecodableReason}"`;
  return `${close.code} ${reason}${undecodable}`;
}

function row(code: ShipHubErrorCode, info: FailureInfo): string {
  return `| \`${code}\` | ${info.errorClass} | ${info.meaning} | ${closeText(info)} | \`${info.metricLabel}\` | ${info.hint} |`;
}

/** The whole of docs/errors.md. */
export function renderErrorsDoc(): string {
  const entries = Object.entries(FAILURES) as [ShipHubErrorCode, FailureInfo][];
  const parts = [INTRO];
  for (const { section, title } of SECTIONS) {
    parts.push(`## ${title}\n`);
    parts.push('| Code | Class | Meaning | Close | Metric label | What to do |');
    parts.push('|---|---|---|---|---|---|');
    for (const [code, info] of entries) if (info.section === section) parts.push(row(code, info));
    parts.push('');
  }
  parts.push('## HTTP status of admin API errors\n');
  parts.push('| Status | Codes |');
  parts.push('|---|---|');
  const byStatus = new Map<number, ShipHubErrorCode[]>();
  for (const [code, info] of entries) {
    if (info.httpStatus === undefined) continue;
    byStatus.set(info.httpStatus, [...(byStatus.get(info.httpStatus) ?? []), code]);
  }
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const codes = byStatus.get(status) ?? [];
    parts.push(`| ${status} | ${codes.map((c) => `\`${c}\``).join(', ')} |`);
  }
  parts.push('| 500 | any other |');
  return `${parts.join('\n')}\n`;
}
