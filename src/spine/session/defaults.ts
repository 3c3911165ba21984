/**
 * The device ship-hub is by default: an energy manager (CEM) in spine-go's layout, as in the
 * example of spine-protocol.md §5.1, with the manufacturer data of §9.1.
 */
import type { LocalUseCase } from '../node-management/use-cases.js';
import type { LocalDeviceSpec } from '../device/local.js';
import type { LocalServerData } from './types.js';

/** What the defaults are built from. */
export interface EnergyManagerOptions {
  /** SPINE device address, e.g. `d:_n:ShipHub_HEMS-0001` (§4.1). */
  device: string;
  /** `DeviceTypeType`; default `EnergyManagementSystem` (§4.2). */
  deviceType?: string;
}

/**
 * Entity `[1]` CEM with a DeviceDiagnosis server (state and heartbeat, §8, §9.2) and the client
 * features a monitoring appliance and energy guard use (§5.1 example): DeviceDiagnosis,
 * Measurement, ElectricalConnection, LoadControl, DeviceConfiguration, DeviceClassification.
 * Entity `[0]` (NodeManagement, DeviceClassification server) is added by createLocalDevice.
 */
export function energyManagerDeviceSpec(options: EnergyManagerOptions): LocalDeviceSpec {
  return {
    device: options.device,
    type: options.deviceType ?? 'EnergyManagementSystem',
    entities: [
      {
        type: 'CEM',
        features: [
          {
            type: 'DeviceDiagnosis',
            role: 'server',
            functions: [
              { function: 'deviceDiagnosisStateData' },
              { function: 'deviceDiagnosisHeartbeatData' },
            ],
          },
          { type: 'DeviceDiagnosis', role: 'client' },
          { type: 'Measurement', role: 'client' },
          { type: 'ElectricalConnection', role: 'client' },
          { type: 'LoadControl', role: 'client' },
          { type: 'DeviceConfiguration', role: 'client' },
          { type: 'DeviceClassification', role: 'client' },
        ],
      },
    ],
  };
}

/** Manufacturer information (§9.1), all optional. */
export interface ManufacturerInfo {
  brand?: string;
  model?: string;
  serialNumber?: string;
  /** Our SHIP ID: spine-go puts it into `deviceCode` (§9.1). */
  shipId?: string;
  softwareRevision?: string;
  vendorCode?: string;
}

/**
 * `deviceClassificationManufacturerData` of our DeviceClassification server `[0]:1` in XSD order
 * (§9.1; spine-go fills brandName = vendorName = brand, deviceName = model, deviceCode = SHIP ID).
 */
export function manufacturerServerData(info: ManufacturerInfo): LocalServerData {
  const data: Record<string, unknown> = {};
  if (info.model !== undefined) data.deviceName = info.model;
  if (info.shipId !== undefined) data.deviceCode = info.shipId;
  if (info.serialNumber !== undefined) data.serialNumber = info.serialNumber;
  if (info.softwareRevision !== undefined) data.softwareRevision = info.softwareRevision;
  if (info.brand !== undefined) data.vendorName = info.brand;
  if (info.vendorCode !== undefined) data.vendorCode = info.vendorCode;
  if (info.brand !== undefined) data.brandName = info.brand;
  return { entity: [0], feature: 1, function: 'deviceClassificationManufacturerData', data };
}

/** `DeviceTypeType` values (spine-protocol.md §4.2); anything else is announced as `Generic`. */
export const SPINE_DEVICE_TYPES = [
  'Dishwasher',
  'Dryer',
  'EnvironmentSensor',
  'Generic',
  'HeatGenerationSystem',
  'HeatSinkSystem',
  'HeatStorageSystem',
  'HVACController',
  'SubMeter',
  'Washer',
  'ElectricitySupplySystem',
  'EnergyManagementSystem',
  'Inverter',
  'ChargingStation',
] as const;

/**
 * The SPINE device type for a configured device type: itself when it is a `DeviceTypeType`
 * (§4.2), `EnergyManagementSystem` for the energy-manager names SHIP TXT records use
 * (`EnergyManager`, `HEMS`, `CEM`), else `Generic`.
 */
export function spineDeviceType(configured: string): string {
  const known = SPINE_DEVICE_TYPES.find((type) => type.toLowerCase() === configured.toLowerCase());
  if (known !== undefined) return known;
  return /^(energy ?manager|hems|cem|ems)$/i.test(configured)
    ? 'EnergyManagementSystem'
    : 'Generic';
}

/**
 * Our SPINE device address as eebus-go builds it (spine-protocol.md §4.1, SPINE_PS 7.1.1.2):
 * `d:_n:<brand>_<model>-<serial>`, with the brand reduced to `[A-Za-z0-9-]` and control, format
 * and space characters left out of the rest, so that it matches the address pattern conformance
 * tests use. An empty brand becomes `ShipHub`.
 */
export function spineDeviceAddress(info: { brand: string; model: string; serial: string }): string {
  const brand = info.brand.replace(/[^A-Za-z0-9-]/g, '') || 'ShipHub';
  const rest = `${info.model}-${info.serial}`.replace(/[\p{Cc}\p{Cf}\p{Z}]/gu, '');
  return `d:_n:${brand}_${rest}`.slice(0, 256);
}

/**
 * Our use cases as a monitoring appliance (spine-protocol.md §11.1-§11.3) on our CEM entity:
 * MPC with all five scenarios (power, energy, current, voltage, frequency) and MGCP with all
 * seven (PV curtailment factor, power, feed-in and consumed energy, current, voltage, frequency).
 */
export function monitoringApplianceUseCases(entity: readonly number[] = [1]): LocalUseCase[] {
  return [
    {
      entity,
      actor: 'MonitoringAppliance',
      useCaseName: 'monitoringOfPowerConsumption',
      scenarios: [1, 2, 3, 4, 5],
    },
    {
      entity,
      actor: 'MonitoringAppliance',
      useCaseName: 'monitoringOfGridConnectionPoint',
      scenarios: [1, 2, 3, 4, 5, 6, 7],
    },
  ];
}
