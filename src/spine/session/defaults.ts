/**
 * The device ship-hub is by default: an energy manager (CEM) in spine-go's layout, as in the
 * example of spine-protocol.md §5.1, with the manufacturer data of §9.1.
 */
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
