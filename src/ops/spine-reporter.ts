/**
 * What the daemon tells an operator about each device's SPINE session (hub `spine` events):
 * the device type and entities of its discovery, its use cases, heartbeat lost and restored,
 * as log lines with structured fields, and the SPINE counters of /metrics. Every string in a
 * line comes from the device, so it is escaped and bounded. Errors a device causes (undecodable
 * payloads, error results we answered, failed requests) are counted and logged at debug level
 * only: a hostile device must not be able to flood the log.
 */
import type { Logger } from 'pino';
import type { Hub } from '../hub/hub.js';
import type { Ski } from '../ship/ski.js';
import { shortSki } from '../ship/ski.js';
import { formatAddress } from '../spine/model/address.js';
import type { DeviceDescription } from '../spine/model/device.js';
import { MONITORING_USE_CASES } from '../spine/monitoring/targets.js';
import type { MonitoredEntity } from '../spine/monitoring/values.js';
import type { UseCaseInformation } from '../spine/node-management/use-cases.js';
import type { SpineSessionEvent } from '../spine/session/types.js';
import { safeTerminalText } from '../util/terminal-text.js';
import type { HubMetrics } from './metrics.js';

/** Longest device text in a line. */
const FIELD_MAX = 64;
/** Most entity types or use cases named in one line; the rest are counted. */
const LIST_MAX = 8;

function text(value: string): string {
  return safeTerminalText(value, FIELD_MAX);
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, LIST_MAX).map(text).join(', ');
  return items.length > LIST_MAX ? `${shown} and ${items.length - LIST_MAX} more` : shown;
}

/** The device's entities without entity 0 (DeviceInformation, holding NodeManagement). */
function applicationEntities(device: DeviceDescription): DeviceDescription['entities'] {
  return device.entities.filter((entity) => entity.entity.join('.') !== '0');
}

/** "🔌 SPINE a1b2c3d4e5f6...: HeatPumpAppliance d:_i:… with 3 entities (HeatPumpAppliance, …)" */
export function discoveredLine(ski: string, device: DeviceDescription): string {
  const entities = applicationEntities(device);
  const type = device.type === undefined ? 'device of unknown type' : text(device.type);
  const address = device.device === undefined ? '' : ` ${text(device.device)}`;
  return (
    `🔌 SPINE ${shortSki(ski)}: ${type}${address} with ${entities.length} ` +
    `entit${entities.length === 1 ? 'y' : 'ies'}` +
    (entities.length > 0 ? ` (${list(entities.map((e) => e.type))})` : '')
  );
}

/** "📋 SPINE a1b2c3d4e5f6...: use cases monitoringOfPowerConsumption (MonitoringAppliance), …" */
export function useCasesLine(ski: string, useCases: readonly UseCaseInformation[]): string {
  const names = useCases.flatMap((actor) =>
    actor.useCases.map((useCase) => `${useCase.useCaseName} (${actor.actor})`),
  );
  return names.length === 0
    ? `📋 SPINE ${shortSki(ski)}: offers no use cases`
    : `📋 SPINE ${shortSki(ski)}: use cases ${list(names)}`;
}

/** "📈 SPINE a1b2c3d4e5f6...: monitoring MPC on [1] HeatPumpAppliance: power 1234.56 W, 5 values" */
export function monitoringLine(ski: string, entity: MonitoredEntity): string {
  const total = entity.measurements.find((m) => m.scope === 'acPowerTotal');
  const power =
    total === undefined
      ? ''
      : `power ${total.value}${total.unit === undefined ? '' : ` ${text(total.unit)}`}, `;
  const name = MONITORING_USE_CASES[entity.useCase].short;
  return (
    `📈 SPINE ${shortSki(ski)}: monitoring ${name} on [${entity.entity.join(',')}] ` +
    `${text(entity.entityType)}: ${power}${entity.measurements.length} value` +
    (entity.measurements.length === 1 ? '' : 's')
  );
}

export interface SpineReporterOptions {
  readonly logger: Logger;
  readonly metrics: HubMetrics;
}

/** Subscribes to the hub's `spine` events; lives as long as the hub. */
export class SpineReporter {
  constructor(
    hub: Hub,
    private readonly options: SpineReporterOptions,
  ) {
    hub.on('spine', (ski, event) => {
      this.report(ski, event);
    });
    hub.on('measurements', (ski, entity) => {
      this.reportMeasurements(ski, entity);
    });
    hub.on('disconnected', (ski) => {
      for (const key of this.monitoringReported) {
        if (key.startsWith(`${ski}/`)) this.monitoringReported.delete(key);
      }
    });
  }

  /** Monitored entities whose first values were logged on this connection (`ski/useCase/entity`). */
  private readonly monitoringReported = new Set<string>();

  /**
   * The first values of a monitored entity per connection at info level (the operator sees that
   * monitoring works and what the device measures), every later update at debug only: devices
   * notify every few seconds.
   */
  private reportMeasurements(ski: Ski, entity: MonitoredEntity): void {
    const { logger: log } = this.options;
    const key = `${ski}/${entity.useCase}/${entity.entity.join('.')}`;
    const fields = {
      event: 'spine_monitoring',
      ski,
      use_case: entity.useCase,
      entity: entity.entity.join('.'),
      values: entity.measurements.length,
    };
    if (entity.measurements.length === 0 || this.monitoringReported.has(key)) {
      log.debug(fields, 'SPINE measurements');
      return;
    }
    this.monitoringReported.add(key);
    log.info(fields, monitoringLine(ski, entity));
  }

  private report(ski: Ski, event: SpineSessionEvent): void {
    const { logger: log, metrics } = this.options;
    switch (event.kind) {
      case 'discovered':
        log.info(
          {
            event: 'spine_discovered',
            ski,
            device_type: event.device.type,
            device_address: event.device.device,
            // As counted in the message: without entity 0.
            entities: applicationEntities(event.device).length,
          },
          discoveredLine(ski, event.device),
        );
        return;
      case 'discoveryChanged':
        log.info(
          {
            event: 'spine_discovery_changed',
            ski,
            added: event.added.map((path) => path.join('.')),
            removed: event.removed.map((path) => path.join('.')),
          },
          `🔌 SPINE ${shortSki(ski)}: entities added ${event.added.length}, removed ${event.removed.length}`,
        );
        return;
      case 'useCases':
        log.info(
          {
            event: 'spine_use_cases',
            ski,
            use_cases: event.useCases.flatMap((actor) =>
              actor.useCases.map((useCase) => useCase.useCaseName),
            ),
          },
          useCasesLine(ski, event.useCases),
        );
        return;
      case 'heartbeatLost':
        metrics.spineHeartbeatLost();
        log.warn(
          {
            event: 'spine_heartbeat_lost',
            ski,
            feature: formatAddress(event.feature),
            silent_ms: event.silentForMs,
          },
          `💔 SPINE ${shortSki(ski)}: heartbeat lost (silent for ${Math.round(event.silentForMs / 1000)} s)`,
        );
        return;
      case 'heartbeatRestored':
        log.info(
          { event: 'spine_heartbeat_restored', ski },
          `💚 SPINE ${shortSki(ski)}: heartbeat back`,
        );
        return;
      case 'undecodable':
        metrics.spineError('undecodable');
        log.debug({ event: 'spine_undecodable', ski, problem: event.error.code }, 'SPINE payload');
        return;
      case 'errorAnswered':
        metrics.spineError('error_answered');
        log.debug(
          { event: 'spine_error_answered', ski, error_number: event.result.errorNumber },
          'SPINE error result sent',
        );
        return;
      case 'requestFailed':
        metrics.spineError('request_failed');
        log.debug(
          { event: 'spine_request_failed', ski, function: event.function, reason: event.reason },
          'SPINE request failed',
        );
        return;
      case 'dataUpdated':
      case 'peerRelationAdded':
      case 'peerRelationRemoved':
      case 'relationResult':
      case 'written':
      case 'warning':
        log.debug({ event: `spine_${event.kind}`, ski }, 'SPINE event');
        return;
    }
  }
}
