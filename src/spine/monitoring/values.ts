/**
 * Live values of a monitored device, read from the function data its Measurement,
 * ElectricalConnection and DeviceConfiguration servers replied or notified (spine-protocol.md
 * §11.2 MPC "Monitoring appliance procedure" step 4 and "Rules and conventions", §11.3 MGCP,
 * §10 ScaledNumber). Pure: the data in, the values out; every field comes from the device and is
 * checked before use, anything malformed is skipped, never thrown.
 */
import { asList, asObject, isUint, own, stringOf } from '../codec/values.js';
import { featureKey, type FeatureAddress } from '../model/address.js';
import type { MonitoringTarget, MonitoringUseCaseName } from './targets.js';

/** One momentary value, joined with its description, phase and energy direction. */
export interface LiveMeasurement {
  readonly measurementId: number;
  /** `power`, `energy`, `current`, `voltage`, `frequency`, … (`measurementType`). */
  readonly type?: string;
  /** `acPowerTotal`, `acPower`, `acEnergyConsumed`, `gridFeedIn`, … (`scopeType`). */
  readonly scope?: string;
  /** `W`, `Wh`, `A`, `V`, `Hz`, … exactly as announced (§10). */
  readonly unit?: string;
  /** `abc`, `a`, `b`, `c`, `ab`, … from the ElectricalConnection parameter description. */
  readonly phases?: string;
  /** The other point of a phase-to-phase or phase-to-neutral value (`neutral`, `b`, …). */
  readonly inReferenceTo?: string;
  /** The value with its scale applied; power and current positive = consumption (§11.2). */
  readonly value: number;
  readonly timestamp?: string;
  /** `measuredValue`, `calculatedValue`, `empiricalValue` (`valueSource`). */
  readonly source?: string;
}

/** One DeviceConfiguration key value (MGCP scenario 1, LPC failsafe values; §11.3, §11.4). */
export interface ConfigurationValue {
  readonly keyId: number;
  /** `pvCurtailmentLimitFactor`, … — keys are found by name, never by id (§11.3). */
  readonly keyName?: string;
  readonly unit?: string;
  /** A scaled number with its scale applied, a duration or text as sent, or a boolean. */
  readonly value: number | string | boolean;
}

/** The function data {@link liveMeasurements} joins (each as stored, possibly undefined). */
export interface MeasurementSources {
  readonly measurementDescriptionListData?: unknown;
  readonly measurementListData?: unknown;
  readonly electricalConnectionParameterDescriptionListData?: unknown;
  readonly electricalConnectionDescriptionListData?: unknown;
}

/** Largest |scale| we apply; SPINE's scale is an int8, real devices send -4..3 (§10). */
const MAX_SCALE = 127;

/**
 * `ScaledNumber` → number (§10: number × 10^scale, missing scale = 0). Dividing by a power of
 * ten for negative scales keeps `123456 / 100` at 1234.56 rather than 1234.5600000000002.
 * Undefined for anything else (a `value:[]` of an unset value, text, a fractional number).
 */
export function scaledNumberValue(value: unknown): number | undefined {
  const scaled = asObject(value);
  if (scaled === undefined) return undefined;
  const number = own(scaled, 'number');
  const scale = own(scaled, 'scale') ?? 0;
  let mantissa: number;
  if (typeof number === 'bigint') mantissa = Number(number);
  else if (typeof number === 'number' && Number.isInteger(number)) mantissa = number;
  else return undefined;
  if (typeof scale !== 'number' || !Number.isInteger(scale) || Math.abs(scale) > MAX_SCALE) {
    return undefined;
  }
  const result = scale < 0 ? mantissa / 10 ** -scale : mantissa * 10 ** scale;
  return Number.isFinite(result) ? result : undefined;
}

/** The entries of a list function (`{<entry>: [...]}`), each as an object; others skipped. */
function entries(data: unknown, entry: string): Record<string, unknown>[] {
  const object = asObject(data);
  if (object === undefined) return [];
  return asList(own(object, entry)).flatMap((item) => {
    const value = asObject(item);
    return value === undefined ? [] : [value];
  });
}

function uintOf(object: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const value = own(object, key);
  return isUint(value) ? value : undefined;
}

/** `{ [key]: text }` when the text is there, `{}` otherwise (optional fields stay absent). */
function defined<K extends string>(key: K, text: string | undefined): { [P in K]?: string } {
  return text === undefined ? {} : ({ [key]: text } as { [P in K]?: string });
}

/** Quantities whose sign follows the energy direction (§11.2 "Sign"); counters do not. */
const SIGNED_TYPES = new Set(['power', 'current']);
/** Values that must not be used (MPC 2.5.2, MGCP 2.6.2; §11.2). */
const UNUSABLE_STATES = new Set(['outOfRange', 'error']);

/**
 * The device's momentary values, in measurement id order: `measurementData` joined by
 * `measurementId` with its description (type, scope, unit), its ElectricalConnection parameter
 * description (phases) and that connection's description (`positiveEnergyDirection`).
 * Skipped: values without a description (not interpretable, §11.2), `valueType` other than
 * `value`, `valueState` `outOfRange`/`error`, values without a number. With
 * `positiveEnergyDirection: produce` power and current are inverted, so that positive always
 * means consumption (eebus-go refuses such data instead; the inversion is our documented choice).
 */
export function liveMeasurements(sources: MeasurementSources): LiveMeasurement[] {
  const descriptions = new Map<number, Record<string, unknown>>();
  for (const item of entries(
    sources.measurementDescriptionListData,
    'measurementDescriptionData',
  )) {
    const id = uintOf(item, 'measurementId');
    if (id !== undefined) descriptions.set(id, item);
  }
  const parameters = new Map<number, Record<string, unknown>>();
  for (const item of entries(
    sources.electricalConnectionParameterDescriptionListData,
    'electricalConnectionParameterDescriptionData',
  )) {
    const id = uintOf(item, 'measurementId');
    if (id !== undefined && !parameters.has(id)) parameters.set(id, item);
  }
  const producing = new Set<number>();
  for (const item of entries(
    sources.electricalConnectionDescriptionListData,
    'electricalConnectionDescriptionData',
  )) {
    const id = uintOf(item, 'electricalConnectionId');
    if (id !== undefined && stringOf(item, 'positiveEnergyDirection') === 'produce') {
      producing.add(id);
    }
  }
  const out: LiveMeasurement[] = [];
  for (const item of entries(sources.measurementListData, 'measurementData')) {
    const id = uintOf(item, 'measurementId');
    if (id === undefined) continue;
    const description = descriptions.get(id);
    if (description === undefined) continue;
    const valueType = stringOf(item, 'valueType');
    if (valueType !== undefined && valueType !== 'value') continue;
    const state = stringOf(item, 'valueState');
    if (state !== undefined && UNUSABLE_STATES.has(state)) continue;
    let value = scaledNumberValue(own(item, 'value'));
    if (value === undefined) continue;
    const type = stringOf(description, 'measurementType');
    const parameter = parameters.get(id);
    const connection =
      parameter === undefined ? undefined : uintOf(parameter, 'electricalConnectionId');
    if (
      connection !== undefined &&
      producing.has(connection) &&
      type !== undefined &&
      SIGNED_TYPES.has(type)
    ) {
      value = value === 0 ? 0 : -value;
    }
    out.push({
      measurementId: id,
      ...defined('type', type),
      ...defined('scope', stringOf(description, 'scopeType')),
      ...defined('unit', stringOf(description, 'unit')),
      ...defined('phases', parameter && stringOf(parameter, 'acMeasuredPhases')),
      ...defined('inReferenceTo', parameter && stringOf(parameter, 'acMeasuredInReferenceTo')),
      value,
      ...defined('timestamp', stringOf(item, 'timestamp')),
      ...defined('source', stringOf(item, 'valueSource')),
    });
  }
  return out.sort((a, b) => a.measurementId - b.measurementId);
}

/** Measurement ids that have a value but no description yet (re-read the descriptions, §11.2). */
export function undescribedMeasurementIds(sources: MeasurementSources): number[] {
  const described = new Set(
    entries(sources.measurementDescriptionListData, 'measurementDescriptionData').flatMap(
      (item) => {
        const id = uintOf(item, 'measurementId');
        return id === undefined ? [] : [id];
      },
    ),
  );
  const missing = new Set<number>();
  for (const item of entries(sources.measurementListData, 'measurementData')) {
    const id = uintOf(item, 'measurementId');
    if (id !== undefined && !described.has(id)) missing.add(id);
  }
  return [...missing].sort((a, b) => a - b);
}

/** A key value's `value` element: `{scaledNumber}`, `{duration}`, `{string}`, `{boolean}`, … */
function keyValue(value: unknown): number | string | boolean | undefined {
  const object = asObject(value);
  if (object === undefined) return undefined;
  const scaled = own(object, 'scaledNumber');
  if (scaled !== undefined) return scaledNumberValue(scaled);
  for (const [key, item] of Object.entries(object)) {
    if (key === 'scaledNumber') continue;
    if (typeof item === 'string' || typeof item === 'boolean') return item;
  }
  return undefined;
}

/**
 * DeviceConfiguration key values joined with their descriptions by `keyId` (§11.3: find a key by
 * `keyName`). Values that are unset (`scaledNumber: []`) or of an unknown shape are skipped.
 */
export function configurationValues(
  descriptionListData: unknown,
  keyValueListData: unknown,
): ConfigurationValue[] {
  const descriptions = new Map<number, Record<string, unknown>>();
  for (const item of entries(descriptionListData, 'deviceConfigurationKeyValueDescriptionData')) {
    const id = uintOf(item, 'keyId');
    if (id !== undefined) descriptions.set(id, item);
  }
  const out: ConfigurationValue[] = [];
  for (const item of entries(keyValueListData, 'deviceConfigurationKeyValueData')) {
    const keyId = uintOf(item, 'keyId');
    if (keyId === undefined) continue;
    const value = keyValue(own(item, 'value'));
    if (value === undefined) continue;
    const description = descriptions.get(keyId);
    out.push({
      keyId,
      ...defined('keyName', description && stringOf(description, 'keyName')),
      ...defined('unit', description && stringOf(description, 'unit')),
      value,
    });
  }
  return out.sort((a, b) => a.keyId - b.keyId);
}

/** What we monitor on one entity and its current values (hub summaries, `devices`, admin API). */
export interface MonitoredEntity {
  readonly useCase: MonitoringUseCaseName;
  readonly entity: readonly number[];
  readonly entityType: string;
  readonly scenarios: readonly number[];
  /** Momentary values, measurement id order; empty until descriptions and values are in. */
  readonly measurements: readonly LiveMeasurement[];
  /** DeviceConfiguration key values (MGCP); empty for MPC. */
  readonly configuration: readonly ConfigurationValue[];
}

/** Function data the session stored, by `featureKey` and function name (RemoteView.data). */
export type StoredFunctionData = ReadonlyMap<string, ReadonlyMap<string, unknown>>;

/** The values of one target from the partner's stored function data. */
export function monitoredEntity(
  target: MonitoringTarget,
  data: StoredFunctionData,
): MonitoredEntity {
  const of = (address: FeatureAddress | undefined) =>
    address?.entity === undefined || address.feature === undefined
      ? undefined
      : data.get(featureKey(address.entity, address.feature));
  const measurement = of(target.measurement);
  const connection = of(target.electricalConnection);
  const configuration = of(target.deviceConfiguration);
  return {
    useCase: target.useCase,
    entity: target.entity,
    entityType: target.entityType,
    scenarios: target.scenarios,
    measurements: liveMeasurements({
      measurementDescriptionListData: measurement?.get('measurementDescriptionListData'),
      measurementListData: measurement?.get('measurementListData'),
      electricalConnectionParameterDescriptionListData: connection?.get(
        'electricalConnectionParameterDescriptionListData',
      ),
      electricalConnectionDescriptionListData: connection?.get(
        'electricalConnectionDescriptionListData',
      ),
    }),
    configuration: configurationValues(
      configuration?.get('deviceConfigurationKeyValueDescriptionListData'),
      configuration?.get('deviceConfigurationKeyValueListData'),
    ),
  };
}
