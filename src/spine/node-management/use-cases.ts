/**
 * nodeManagementUseCaseData ⇄ a typed list of use case announcements (spine-protocol.md §5.4
 * "nodeManagementUseCaseData"; spine-go `model/nodemanagement.go` element order).
 *
 * Parsing is as lenient as the field requires (§5.4 "Real-world variance"): entries without an
 * address or with an address without entity (Porsche, Elli, Viessmann), missing
 * `useCaseAvailable` or sub revision, unknown actors and use case names (kept as strings),
 * duplicates (kept). Our own data is written in XSD order with every field filled in (IG-SPINE
 * 2.5: `useCaseDocumentSubRevision`; checklist item 30).
 */
import { asList, asObject, isUint, own, stringOf } from '../codec/values.js';
import type { FeatureAddress } from '../model/address.js';

/** One use case an actor supports (`useCaseSupport` entry, §5.4). */
export interface UseCaseSupport {
  /** `monitoringOfPowerConsumption`, `limitationOfPowerConsumption`, … (unknown names kept). */
  useCaseName: string;
  /** `1.0.0`; real devices send `1.0.0 draft3` too. */
  useCaseVersion?: string;
  /**
   * As announced; absent means "not said". A client must ignore `false` of a server actor
   * (IG-SPINE 2.2, TC_SPINE_RTC_003, §5.4): this model only reports it.
   */
  useCaseAvailable?: boolean;
  scenarios: readonly number[];
  /** `release`, `RC1`, … */
  useCaseDocumentSubRevision?: string;
}

/** One `useCaseInformation` entry: an actor on an entity and its use cases (§5.4). */
export interface UseCaseInformation {
  /** The entity implementing the actor; absent or without `entity` on some devices (§5.4). */
  address?: FeatureAddress;
  /** `UseCaseActorType` (`MonitoringAppliance`, `CEM`, …; unknown actors kept). */
  actor: string;
  useCases: readonly UseCaseSupport[];
}

/** Outcome of {@link parseUseCaseData}. */
export interface UseCaseParseResult {
  useCases: UseCaseInformation[];
  warnings: string[];
}

/** An address element read leniently: device, entity path, feature where valid. */
function readAddress(value: unknown): FeatureAddress | undefined {
  const object = asObject(value);
  if (object === undefined) return undefined;
  const address: { device?: string; entity?: number[]; feature?: number } = {};
  const device = stringOf(object, 'device');
  if (device !== undefined) address.device = device;
  const entity = own(object, 'entity');
  if (entity !== undefined) {
    const path = asList(entity);
    if (path.every((item) => isUint(item))) address.entity = path as number[];
  }
  const feature = own(object, 'feature');
  if (isUint(feature)) address.feature = feature;
  return address;
}

/**
 * Reads `nodeManagementUseCaseData` as it arrives in a reply or notify (§5.4). Never fails: an
 * entry without actor is skipped with a warning, everything else is kept.
 */
export function parseUseCaseData(data: unknown): UseCaseParseResult {
  const warnings: string[] = [];
  const useCases: UseCaseInformation[] = [];
  const root = asObject(data) ?? {};
  asList(own(root, 'useCaseInformation')).forEach((item, index) => {
    const entry = asObject(item);
    const actor = entry && stringOf(entry, 'actor');
    if (entry === undefined || actor === undefined) {
      warnings.push(`useCaseInformation[${index}]: no actor, skipped`);
      return;
    }
    const supports: UseCaseSupport[] = [];
    for (const supportItem of asList(own(entry, 'useCaseSupport'))) {
      const support = asObject(supportItem);
      const name = support && stringOf(support, 'useCaseName');
      if (support === undefined || name === undefined) {
        warnings.push(`useCaseInformation[${index}]: a useCaseSupport without useCaseName`);
        continue;
      }
      const parsed: UseCaseSupport = {
        useCaseName: name,
        scenarios: asList(own(support, 'scenarioSupport')).filter((n): n is number => isUint(n)),
      };
      const version = stringOf(support, 'useCaseVersion');
      if (version !== undefined) parsed.useCaseVersion = version;
      const available = own(support, 'useCaseAvailable');
      if (typeof available === 'boolean') parsed.useCaseAvailable = available;
      const revision = stringOf(support, 'useCaseDocumentSubRevision');
      if (revision !== undefined) parsed.useCaseDocumentSubRevision = revision;
      supports.push(parsed);
    }
    const information: UseCaseInformation = { actor, useCases: supports };
    const address = readAddress(own(entry, 'address'));
    if (address !== undefined) information.address = address;
    useCases.push(information);
  });
  return { useCases, warnings };
}

/** A use case of ours, as the application declares it (one entry per entity and actor). */
export interface LocalUseCase {
  /** The entity that hosts the actor's features, e.g. `[1]`. */
  entity: readonly number[];
  actor: string;
  useCaseName: string;
  /** Default `1.0.0` (§5.4). */
  useCaseVersion?: string;
  scenarios: readonly number[];
  /** Default `release` (IG-SPINE 2.5). */
  useCaseDocumentSubRevision?: string;
}

/**
 * Our `nodeManagementUseCaseData` (§5.4, checklist item 30): one `useCaseInformation` per
 * (entity, actor) in the order first declared, each use case available (we announce only what
 * we run), with version and sub revision.
 */
export function buildUseCaseData(
  device: string,
  useCases: readonly LocalUseCase[],
): Record<string, unknown> {
  const groups: Array<{ entity: readonly number[]; actor: string; supports: unknown[] }> = [];
  for (const useCase of useCases) {
    let group = groups.find(
      (g) =>
        g.actor === useCase.actor &&
        g.entity.length === useCase.entity.length &&
        g.entity.every((n, i) => n === useCase.entity[i]),
    );
    if (group === undefined) {
      group = { entity: useCase.entity, actor: useCase.actor, supports: [] };
      groups.push(group);
    }
    group.supports.push({
      useCaseName: useCase.useCaseName,
      useCaseVersion: useCase.useCaseVersion ?? '1.0.0',
      useCaseAvailable: true,
      scenarioSupport: [...useCase.scenarios],
      useCaseDocumentSubRevision: useCase.useCaseDocumentSubRevision ?? 'release',
    });
  }
  return {
    useCaseInformation: groups.map((group) => ({
      address: { device, entity: [...group.entity] },
      actor: group.actor,
      useCaseSupport: group.supports,
    })),
  };
}
