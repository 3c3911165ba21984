import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/ops/logger.js';
import {
  activeHandleCount,
  connectionLimitApproaching,
  connectionState,
  deviceConnected,
  deviceDisconnected,
  deviceError,
  discovered,
  formatDuration,
  formatPairingPrompt,
  formatUptimeMinutes,
  healthCheck,
  metricsReport,
  pairingExpired,
  parsePairingAnswer,
  shortLivedConnection,
  isUnplannedShortLived,
  trustDecisionRequested,
  trustedDeviceAdded,
  trustedDeviceRemoved,
  userApproved,
  userDenied,
} from '../../../src/ops/operator-log.js';

/** A JSON logger whose records are collected, parsed. */
function sink() {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') records.push(JSON.parse(line));
      }
      done();
    },
  });
  const logger = createLogger({ level: 'trace', format: 'json', destination: stream });
  return { logger, records };
}

// The seed README's SKIs are shown in the short form "a1b2c3d4e5f6..."; a full SKI with that
// prefix renders the same.
const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';

describe('operator log lines are the seed README lines', () => {
  it('discovery block', () => {
    const { logger, records } = sink();
    const event = discovered(logger, [
      {
        ski: SKI,
        brand: 'Viessmann',
        model: 'Vitocaldens',
        address: '192.168.1.100',
        trusted: false,
      },
    ]);
    const seed = [
      '📡 Discovered 1 devices',
      '  📱 a1b2c3d4e5f6...: Viessmann Vitocaldens (192.168.1.100)',
      '    🔒 Unknown device',
    ];
    assert.deepEqual(event.lines, seed);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.msg, seed.join('\n'));
    assert.equal(records[0]?.event, 'discovered');
    assert.equal(records[0]?.count, 1);
    assert.deepEqual((records[0]?.devices as unknown[])[0], {
      ski: SKI,
      brand: 'Viessmann',
      model: 'Vitocaldens',
      address: '192.168.1.100',
      trusted: false,
    });
  });

  it('pairing request and prompt', () => {
    const { logger, records } = sink();
    trustDecisionRequested(logger, SKI);
    assert.equal(records[0]?.msg, '🔒 Trust decision requested for device: a1b2c3d4e5f6...');
    assert.equal(records[0]?.event, 'trust_decision_requested');
    assert.equal(records[0]?.ski, SKI);

    const device = { ski: SKI, brand: 'Viessmann', model: 'Vitocaldens', device_type: 'HeatPump' };
    const seedPrompt =
      '\n🔒 Device Pairing Request\nSKI: a1b2c3d4e5f6...\nBrand: Viessmann\nModel: Vitocaldens\n' +
      'Type: HeatPump\n\nDo you want to trust this device? (yes/no): ';
    assert.equal(formatPairingPrompt(device, { shortSki: true }), seedPrompt);
    assert.equal(
      formatPairingPrompt(device),
      seedPrompt.replace('SKI: a1b2c3d4e5f6...', `SKI: ${SKI}`),
    );
    assert.equal(parsePairingAnswer(' yes\n'), true);
    assert.equal(parsePairingAnswer('N'), false);
    assert.equal(parsePairingAnswer('maybe'), undefined);
  });

  it('successful pairing', () => {
    const { logger, records } = sink();
    userApproved(logger, SKI);
    trustedDeviceAdded(logger, { ski: SKI, brand: 'Viessmann', model: 'Vitocaldens' });
    deviceConnected(logger, SKI);
    assert.deepEqual(
      records.map((r) => r.msg),
      [
        '✅ User approved device: a1b2c3d4e5f6...',
        '✅ Added trusted device: a1b2c3d4e5f6... (Viessmann Vitocaldens)',
        '✅ Device connected: a1b2c3d4e5f6...',
      ],
    );
    assert.deepEqual(
      records.map((r) => r.event),
      ['user_approved', 'trusted_device_added', 'device_connected'],
    );
    assert.ok(records.every((r) => r.ski === SKI && r.level === 30));
  });

  it('a device added by SKI alone is not shown with an empty "( )"', () => {
    const { logger, records } = sink();
    trustedDeviceAdded(logger, { ski: SKI, brand: '', model: '' });
    trustedDeviceAdded(logger, { ski: SKI, brand: 'Acme', model: '' });
    assert.deepEqual(
      records.map((r) => r.msg),
      [
        '✅ Added trusted device: a1b2c3d4e5f6...',
        '✅ Added trusted device: a1b2c3d4e5f6... (Acme)',
      ],
    );
  });

  it('connection failures', () => {
    const { logger, records } = sink();
    deviceError(logger, SKI, new Error('connection timeout'));
    connectionState(logger, SKI, 'ConnectionStateError', new Date(2024, 0, 9, 10, 30, 15));
    deviceDisconnected(logger, SKI, 45_000);
    assert.deepEqual(
      records.map((r) => r.msg),
      [
        '❌ Device a1b2c3d4e5f6... error: connection timeout',
        '[10:30:15] 🔄 a1b2c3d4e5f6...: ConnectionStateError',
        '📱 Device disconnected: a1b2c3d4e5f6... (connected for 45s)',
      ],
    );
    assert.equal(records[0]?.level, 50);
    assert.equal(records[0]?.error, 'connection timeout');
    assert.equal(records[2]?.connected_for_s, 45);
  });

  it('resource limits and short-lived connections', () => {
    const { logger, records } = sink();
    connectionLimitApproaching(logger, 18, 20);
    shortLivedConnection(logger, SKI, 1200);
    assert.deepEqual(
      records.map((r) => r.msg),
      [
        '⚠️  Approaching connection limit: 18/20',
        '⚠️  Short-lived connection detected for a1b2c3d4e5f6...',
      ],
    );
    assert.ok(records.every((r) => r.level === 40));
    assert.equal(records[0]?.active, 18);
    assert.equal(records[0]?.max, 20);
  });

  it('"Short-lived connection" only for unplanned ends', () => {
    const failed = { code: 'SHIPHUB_ERR_CONNECTION_LOST' };
    // Short and unplanned: it failed or dropped (either side's fault).
    assert.equal(isUnplannedShortLived({ byPeer: true, failure: failed }, 1_000, 30_000), true);
    assert.equal(isUnplannedShortLived({ byPeer: false, failure: failed }, 1_000, 30_000), true);
    // Planned: the device's own SHIP close (it shut down), our graceful close (shutdown,
    // un-pairing), a duplicate dropped by design; or long-lived.
    assert.equal(isUnplannedShortLived({ byPeer: true, failure: undefined }, 1_000, 30_000), false);
    assert.equal(
      isUnplannedShortLived({ byPeer: false, failure: undefined }, 1_000, 30_000),
      false,
    );
    assert.equal(
      isUnplannedShortLived(
        { byPeer: false, failure: { code: 'SHIPHUB_ERR_DOUBLE_CONNECTION' } },
        1_000,
        30_000,
      ),
      false,
    );
    assert.equal(isUnplannedShortLived({ byPeer: true, failure: failed }, 60_000, 30_000), false);
  });

  it('health check (goroutines= kept for grep compatibility)', () => {
    const { logger, records } = sink();
    healthCheck(logger, {
      uptimeMs: (2 * 3600 + 15 * 60 + 30) * 1000,
      connections: 5,
      total: 12,
      failed: 2,
      activeHandles: 15,
    });
    assert.equal(
      records[0]?.msg,
      '🏥 Health Check: uptime=2h15m, connections=5, total=12, failed=2, goroutines=15',
    );
    assert.equal(records[0]?.event, 'health_check');
    assert.equal(records[0]?.active_handles, 15);
    assert.ok(Number.isInteger(activeHandleCount()));
  });

  it('metrics report block, greppable for "📊 Metrics" in JSON', () => {
    const { logger, records } = sink();
    const event = metricsReport(logger, {
      uptimeMs: (2 * 3600 + 15 * 60 + 30) * 1000,
      active: 5,
      total: 12,
      failed: 2,
      handshakes: 12,
      trustedDevices: 8,
      errorCounts: { trust_rejected: 1, connection_failed: 2 },
    });
    const seed = `📊 Metrics Report:
  Uptime: 2h15m30s
  Connections: active=5, total=12, failed=2
  Handshakes: count=12
  Trusted devices: 8
  Error counts:
    connection_failed: 2
    trust_rejected: 1`;
    assert.equal(event.msg, seed);
    assert.equal(records[0]?.msg, seed);
    assert.equal(records[0]?.event, 'metrics_report');
    assert.deepEqual(records[0]?.error_counts, { trust_rejected: 1, connection_failed: 2 });
  });

  it('leaves the error block out when there are no errors', () => {
    const { logger } = sink();
    const event = metricsReport(logger, {
      uptimeMs: 5000,
      active: 0,
      total: 0,
      failed: 0,
      handshakes: 0,
      trustedDevices: 0,
      errorCounts: {},
    });
    assert.equal(event.lines.length, 5);
    assert.equal(event.lines[1], '  Uptime: 5s');
  });

  it('lines the seed does not show follow its style', () => {
    const { logger, records } = sink();
    userDenied(logger, SKI);
    pairingExpired(logger, SKI);
    trustedDeviceRemoved(logger, SKI);
    discovered(logger, [{ ski: SKI, brand: 'Viessmann', model: 'Vitocaldens', trusted: true }]);
    assert.deepEqual(
      records.map((r) => r.msg),
      [
        '❌ User denied device: a1b2c3d4e5f6...',
        '⌛ Pairing request expired for device: a1b2c3d4e5f6...',
        '🗑️  Removed trusted device: a1b2c3d4e5f6...',
        '📡 Discovered 1 devices\n  📱 a1b2c3d4e5f6...: Viessmann Vitocaldens\n    ✅ Trusted device',
      ],
    );
  });
});

describe('durations', () => {
  it('formats like Go time.Duration for whole seconds', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(44_600), '45s');
    assert.equal(formatDuration(150_000), '2m30s');
    assert.equal(formatDuration(3_605_000), '1h0m5s');
    assert.equal(formatDuration(8_130_000), '2h15m30s');
  });

  it('formats uptime in hours and minutes for the health check', () => {
    assert.equal(formatUptimeMinutes(8_130_000), '2h15m');
    assert.equal(formatUptimeMinutes(300_000), '5m');
    assert.equal(formatUptimeMinutes(3_600_000), '1h0m');
  });
});

// eslint-disable-next-line no-control-regex -- the tests look for control characters
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('remote strings in operator lines are escaped, stored fields stay raw', () => {
  const EVIL = 'Evil\x1b[2JCorp';

  it('the pairing prompt shows control and bidi characters as escapes, one field a line', () => {
    const prompt = formatPairingPrompt({
      ski: `${SKI}\rSKI: 0000`,
      brand: EVIL,
      model: 'Model\u202eX',
      device_type: 'Heat\nPump',
    });
    assert.equal(
      prompt,
      `\n🔒 Device Pairing Request\nSKI: ${SKI}\\x0dSKI: 0000\nBrand: Evil\\x1b[2JCorp\n` +
        'Model: Model\\u202eX\nType: Heat\\x0aPump\n\nDo you want to trust this device? (yes/no): ',
    );
    // Only the prompt's own newlines are left.
    assert.doesNotMatch(prompt.replaceAll('\n', ''), CONTROL_OR_BIDI);
  });

  it('the pairing prompt bounds a long brand so the SKI stays on screen', () => {
    const prompt = formatPairingPrompt({
      ski: SKI,
      brand: 'B'.repeat(255),
      model: 'm',
      device_type: 't',
    });
    const brandLine = prompt.split('\n').find((line) => line.startsWith('Brand: '));
    assert.equal(brandLine, `Brand: ${'B'.repeat(127)}…`);
  });

  it('discovery block, added device and error lines escape brand, model, address and reason', () => {
    const { logger, records } = sink();
    const event = discovered(logger, [
      { ski: SKI, brand: EVIL, model: 'M\r', address: '10.0.0.1\u2066', trusted: false },
    ]);
    assert.equal(event.lines[1], '  📱 a1b2c3d4e5f6...: Evil\\x1b[2JCorp M\\x0d (10.0.0.1\\u2066)');
    trustedDeviceAdded(logger, { ski: SKI, brand: EVIL, model: 'M' });
    deviceError(logger, SKI, new Error('closed (close code 4000: \x1b]0;pwned\x07)'));
    connectionState(logger, `abc\rdef`, 'State\x1b[K', new Date(2024, 0, 9, 10, 30, 15));
    assert.deepEqual(
      records.map((r) => r.msg),
      [
        event.msg,
        '✅ Added trusted device: a1b2c3d4e5f6... (Evil\\x1b[2JCorp M)',
        '❌ Device a1b2c3d4e5f6... error: closed (close code 4000: \\x1b]0;pwned\\x07)',
        '[10:30:15] 🔄 abc\\x0ddef: State\\x1b[K',
      ],
    );
    for (const record of records) {
      assert.doesNotMatch(String(record.msg).replaceAll('\n', ''), CONTROL_OR_BIDI);
    }
    // The structured fields keep what the device sent; JSON escapes it in the log line.
    assert.equal((records[0]?.devices as Array<{ brand: string }>)[0]?.brand, EVIL);
    assert.equal(records[1]?.brand, EVIL);
    assert.equal(records[2]?.error, 'closed (close code 4000: \x1b]0;pwned\x07)');
  });

  it('pretty output on a terminal holds no control or bidi character of a remote value', () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger({
      level: 'info',
      format: 'pretty',
      destination: stream,
      colorize: false,
    });
    discovered(logger, [
      { ski: SKI, brand: 'Evil\x1b[2J\u202eCorp\u009b', model: 'M', trusted: false },
    ]);
    const text = chunks.join('');
    assert.match(text, /Evil\\x1b\[2J\\u202eCorp\\x9b/, 'msg escaped');
    assert.match(text, /"Evil\\u001b\[2J\\u202eCorp\\u009b"/, 'field shown as escaped JSON');
    assert.doesNotMatch(text.replaceAll('\n', ''), CONTROL_OR_BIDI);
  });
});
