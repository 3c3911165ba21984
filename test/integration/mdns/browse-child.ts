/** Browses `_ship._tcp` with our provider and prints every service event as a JSON line. */
import { createMdnsProvider } from '../../../src/mdns/index.js';
import { childLogger, emit, onStop, readConfig } from './child-common.js';

const config = readConfig();
const provider = await createMdnsProvider({
  provider: config.provider,
  interfaces: config.interfaces,
  logger: childLogger,
});
emit('provider', { name: provider.name });
provider.onService(({ type, service }) => {
  emit(type, { service });
});
await provider.start();
emit('browsing');
onStop(config.lifetimeMs, () => provider.close());
