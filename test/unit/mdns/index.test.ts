import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMdnsProvider } from '../../../src/mdns/index.js';
import { ConfigError, TransportError } from '../../../src/ship/errors.js';

// No sockets are opened here: providers are created but never started.
const NO_BUS = 'unix:path=/nonexistent/ship-hub-test/bus.sock';
const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;

afterEach(() => {
  if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
  else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
});

const fixtureInterfaces = () => ({
  eth0: [
    {
      address: '192.168.1.10',
      netmask: '255.255.255.0',
      family: 'IPv4' as const,
      mac: '00:00:00:00:00:01',
      internal: false,
      cidr: '192.168.1.10/24',
    },
  ],
});

describe('createMdnsProvider', () => {
  it('auto falls back to builtin when the system bus is missing', { timeout: 30_000 }, async () => {
    process.env.DBUS_SYSTEM_BUS_ADDRESS = NO_BUS;
    const provider = await createMdnsProvider({ provider: 'auto', avahiProbeTimeoutMs: 1_000 });
    assert.equal(provider.name, 'builtin');
    await provider.close();
  });

  it('avahi without Avahi is a TransportError with a hint', async () => {
    process.env.DBUS_SYSTEM_BUS_ADDRESS = NO_BUS;
    await assert.rejects(
      createMdnsProvider({ provider: 'avahi', avahiProbeTimeoutMs: 1_000 }),
      (error: unknown) =>
        error instanceof TransportError &&
        error.code === 'SHIPHUB_ERR_TRANSPORT' &&
        /Avahi is not available/.test(error.message) &&
        error.hint !== undefined,
    );
  });

  it('rejects unknown interface names before touching the network', async () => {
    await assert.rejects(
      createMdnsProvider({
        provider: 'builtin',
        interfaces: ['eth9'],
        interfaceSource: fixtureInterfaces,
      }),
      (error: unknown) =>
        error instanceof ConfigError && /"eth9"; this host has "eth0"/.test(error.message),
    );
    const provider = await createMdnsProvider({
      provider: 'builtin',
      interfaces: ['eth0'],
      interfaceSource: fixtureInterfaces,
    });
    assert.equal(provider.name, 'builtin');
    await provider.close();
  });

  it('announce() refuses an invalid TXT record synchronously with a ConfigError', async () => {
    const provider = await createMdnsProvider({
      provider: 'builtin',
      interfaceSource: fixtureInterfaces,
    });
    assert.throws(
      () =>
        void provider.announce({
          instanceName: 'x',
          port: 4712,
          txt: {
            shipId: 'x'.repeat(300),
            ski: 'b467a3999eb5efa671de0032f08a9c9e5efda0e1',
            brand: 'b',
            model: 'm',
            type: 't',
            register: false,
          },
        }),
      ConfigError,
    );
    await provider.close();
  });
});
