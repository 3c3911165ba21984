import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { REDACTED, createLogger } from '../../../src/ops/logger.js';

function capture(isTTY = false) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  }) as Writable & { isTTY?: boolean };
  if (isTTY) stream.isTTY = true;
  return { stream, text: () => chunks.join('') };
}

function records(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('logger', () => {
  it('writes NDJSON with an ISO time, level and child bindings', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', format: 'json', destination: out.stream });
    logger.child({ component: 'hub' }).info({ event: 'x' }, 'hello');
    logger.debug('hidden at info');
    const [record, ...rest] = records(out.text());
    assert.equal(rest.length, 0);
    assert.equal(record?.msg, 'hello');
    assert.equal(record?.level, 30);
    assert.equal(record?.component, 'hub');
    assert.equal(record?.event, 'x');
    assert.match(String(record?.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('redacts keys, PINs, tokens and authorization headers', () => {
    const out = capture();
    const logger = createLogger({ level: 'trace', format: 'json', destination: out.stream });
    logger.info(
      {
        pin: '1234',
        privateKey: '-----BEGIN PRIVATE KEY-----',
        token: 't',
        config: { admin_token: 'secret', private_key: 'k', port: 4712 },
        req: { headers: { authorization: 'Bearer secret' } },
      },
      'redaction test',
    );
    const text = out.text();
    assert.ok(!text.includes('1234'));
    assert.ok(!text.includes('BEGIN PRIVATE KEY'));
    assert.ok(!text.includes('secret'));
    const [record] = records(text);
    assert.equal(record?.pin, REDACTED);
    assert.equal((record?.config as Record<string, unknown>).admin_token, REDACTED);
    assert.equal((record?.config as Record<string, unknown>).port, 4712);
  });

  it('is pretty for format "pretty" and for "auto" on a TTY, JSON for "auto" elsewhere', () => {
    const pretty = capture();
    createLogger({ level: 'info', format: 'pretty', destination: pretty.stream, colorize: false })
      .child({ component: 'hub' })
      .info({ event: 'device_connected', ski: 'ab' }, '✅ Device connected: a1b2c3d4e5f6...');
    assert.match(pretty.text(), /INFO: \(hub\) ✅ Device connected: a1b2c3d4e5f6\.\.\.\n/);
    assert.ok(!pretty.text().trimStart().startsWith('{'));

    const tty = capture(true);
    createLogger({ level: 'info', format: 'auto', destination: tty.stream, colorize: false }).info(
      'on a terminal',
    );
    assert.match(tty.text(), /INFO: on a terminal/);

    const pipe = capture(false);
    createLogger({ level: 'info', format: 'auto', destination: pipe.stream }).info('in a pipe');
    assert.equal(records(pipe.text())[0]?.msg, 'in a pipe');
  });

  it('a seed line with its own clock time shows one timestamp on a terminal, keeps it in JSON', () => {
    const line = '[10:30:15] 🔄 a1b2c3d4e5f6...: ConnectionStateError';
    const pretty = capture();
    createLogger({
      level: 'info',
      format: 'pretty',
      destination: pretty.stream,
      colorize: false,
    }).info({ event: 'connection_state' }, line);
    assert.equal(pretty.text().match(/\d{2}:\d{2}:\d{2}/g)?.length, 1, pretty.text());
    assert.match(pretty.text(), /INFO: 🔄 a1b2c3d4e5f6\.\.\.: ConnectionStateError\n/);
    const json = capture(false);
    createLogger({ level: 'info', format: 'json', destination: json.stream }).info(line);
    assert.equal(records(json.text())[0]?.msg, line, 'the seed text stays greppable in JSON');
  });

  it('honours "silent"', () => {
    const out = capture();
    createLogger({ level: 'silent', format: 'json', destination: out.stream }).fatal('nothing');
    assert.equal(out.text(), '');
  });
});
