/**
 * The monitoring appliance side of MPC and MGCP (spine-protocol.md §11.1-§11.3): which partner
 * entities to monitor, what to ask them, and their live values. Pure, like the rest of src/spine.
 */
export * from './targets.js';
export * from './values.js';
