/** Announces `_ship._tcp` with our provider until SIGTERM (then sends goodbyes and exits 0). */
import { createMdnsProvider } from '../../../src/mdns/index.js';
import { childLogger, emit, onStop, readConfig } from './child-common.js';

const config = readConfig();
const provider = await createMdnsProvider({
  provider: config.provider,
  interfaces: config.interfaces,
  logger: childLogger,
});
emit('provider', { name: provider.name });
const txt = {
  shipId: config.shipId ?? 'CI-DUT-0001',
  ski: config.ski ?? '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567',
  brand: 'ship-hub',
  model: 'interop-test',
  type: 'EnergyManagementSystem',
  register: false,
  serial: '0001',
  categories: [2],
};
await provider.announce({
  instanceName: config.instanceName ?? 'ship-hub interop',
  port: config.port ?? 4712,
  txt,
});
emit('announced');
process.on('SIGUSR2', () => {
  provider
    .announce({
      instanceName: config.instanceName ?? 'ship-hub interop',
      port: config.port ?? 4712,
      txt: { ...txt, register: true },
    })
    .then(
      () => emit('updated'),
      (error: unknown) => emit('error', { where: 'update', message: String(error) }),
    );
});
onStop(config.lifetimeMs, async () => {
  await provider.unannounce();
  await provider.close();
});
