/**
 * explainDialError (src/transport/ship-client.ts) for failures before any byte reaches the
 * device: a name that does not resolve is said to be one, with what to do, not "TLS failed".
 * Synthetic errors: resolving a name would send a DNS query off the machine.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { explainDialError } from '../../../src/transport/ship-client.js';

function errno(code: string): Error {
  return Object.assign(new Error(`getaddrinfo ${code} heatpump`), { code });
}

describe('explainDialError', () => {
  it('a name that cannot be resolved: says so and asks for the address and port', () => {
    for (const code of ['ENOTFOUND', 'EAI_AGAIN']) {
      const explained = explainDialError(errno(code), { host: 'heatpump', port: 4712 });
      assert.equal(explained.code, 'SHIPHUB_ERR_TRANSPORT');
      assert.match(explained.message, /the name heatpump cannot be resolved/);
      assert.doesNotMatch(explained.message, /TLS/);
      assert.match(String(explained.hint), /IP address .*ship-hub discover.*4712 is used/);
    }
  });

  it('a refused connect names the target and points at discover', () => {
    const explained = explainDialError(errno('ECONNREFUSED'), { host: '127.0.0.1', port: 9 });
    assert.match(explained.message, /nothing listens on 127\.0\.0\.1:9/);
    assert.match(String(explained.hint), /ship-hub discover/);
  });
});
