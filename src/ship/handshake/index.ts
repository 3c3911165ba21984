export * from './state.js';
export * from './timers.js';
export {
  canSendData,
  initialState,
  phaseOf,
  smeConfig,
  step,
  DEFAULT_SME_LIMITS,
} from './machine.js';
