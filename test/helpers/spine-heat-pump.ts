/**
 * A monitored heat pump for SPINE tests: entity [1] HeatPumpAppliance with ElectricalConnection
 * (feature 5) and Measurement (feature 6) servers as the recorded openeebus heat pump has them,
 * announcing MPC as MonitoredUnit, with descriptions and values in plain form as
 * spine-protocol.md §11.2 shows them (total power 1234.56 W).
 */
import type { LocalUseCase } from '../../src/spine/node-management/use-cases.js';
import type { LocalServerData } from '../../src/spine/session/types.js';
import { PEER, localDevice } from './spine-session.js';

export const HEAT_PUMP = localDevice({
  device: PEER,
  type: 'HeatPumpAppliance',
  entities: [
    {
      type: 'HeatPumpAppliance',
      features: [
        {
          type: 'ElectricalConnection',
          role: 'server',
          feature: 5,
          functions: [
            { function: 'electricalConnectionDescriptionListData' },
            { function: 'electricalConnectionParameterDescriptionListData' },
          ],
        },
        {
          type: 'Measurement',
          role: 'server',
          feature: 6,
          functions: [
            { function: 'measurementDescriptionListData' },
            { function: 'measurementListData' },
          ],
        },
      ],
    },
  ],
});

/** The heat pump's data (plain form, as spine-protocol.md §11.2 shows it). */
export const HEAT_PUMP_DATA: LocalServerData[] = [
  {
    entity: [1],
    feature: 5,
    function: 'electricalConnectionDescriptionListData',
    data: {
      electricalConnectionDescriptionData: [
        { electricalConnectionId: 0, powerSupplyType: 'ac', positiveEnergyDirection: 'consume' },
      ],
    },
  },
  {
    entity: [1],
    feature: 5,
    function: 'electricalConnectionParameterDescriptionListData',
    data: {
      electricalConnectionParameterDescriptionData: [
        { electricalConnectionId: 0, parameterId: 0, measurementId: 0, acMeasuredPhases: 'abc' },
        { electricalConnectionId: 0, parameterId: 1, measurementId: 1, acMeasuredPhases: 'a' },
      ],
    },
  },
  {
    entity: [1],
    feature: 6,
    function: 'measurementDescriptionListData',
    data: {
      measurementDescriptionData: [
        { measurementId: 0, measurementType: 'power', unit: 'W', scopeType: 'acPowerTotal' },
        { measurementId: 1, measurementType: 'power', unit: 'W', scopeType: 'acPower' },
        { measurementId: 2, measurementType: 'energy', unit: 'Wh', scopeType: 'acEnergyConsumed' },
      ],
    },
  },
  {
    entity: [1],
    feature: 6,
    function: 'measurementListData',
    data: {
      measurementData: [
        { measurementId: 0, valueType: 'value', value: { number: 123456, scale: -2 } },
        { measurementId: 1, valueType: 'value', value: { number: 410, scale: 0 } },
        { measurementId: 2, valueType: 'value', value: { number: 98765, scale: 1 } },
        // No description: not interpretable, and worth exactly one description re-read.
        { measurementId: 9, valueType: 'value', value: { number: 1, scale: 0 } },
      ],
    },
  },
];

export const HEAT_PUMP_USE_CASES: LocalUseCase[] = [
  {
    entity: [1],
    actor: 'MonitoredUnit',
    useCaseName: 'monitoringOfPowerConsumption',
    scenarios: [1, 2],
  },
];
