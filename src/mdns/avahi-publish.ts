/**
 * Announcing through Avahi (see avahi.ts): one EntryGroup; one AddService per allowed interface
 * index, or AVAHI_IF_UNSPEC without restriction; TXT as byte arrays, one per pair;
 * UpdateServiceTxt for TXT changes. A COLLISION takes GetAlternativeServiceName and registers
 * again (SHIP §7.1).
 */
import {
  AVAHI_ENTRY_GROUP_INTERFACE,
  AVAHI_PROTO_UNSPEC,
  AvahiEntryGroupState,
  AvahiServerState,
  bodyNumber,
  bodyString,
  type SignalBody,
} from './avahi-bus.js';
import type { AvahiBusPort } from './avahi.js';
import type { MdnsLogger } from './log.js';
import { txtToBuffers } from './txt.js';
import { SHIP_SERVICE_TYPE } from './types.js';

/** Renames after collisions before we give up (a name war on the link). */
export const MAX_COLLISION_RENAMES = 32;

/** What the publisher needs of its provider. */
export interface AvahiPublisherContext {
  bus(): AvahiBusPort | undefined;
  interfaceIndexes(bus: AvahiBusPort): Promise<number[]>;
  readonly logger: MdnsLogger;
  isClosed(): boolean;
  /** Runs a task on the provider's queue (one D-Bus conversation at a time). */
  enqueue(task: () => Promise<void>): Promise<void>;
  /** Watch the configured interfaces (announce once one appears, again when re-created). */
  schedulePoll(): void;
  readonly restriction: readonly string[] | undefined;
}

/** What we announce: instance name, port, TXT pairs. */
export interface AvahiAnnouncement {
  readonly instanceName: string;
  readonly port: number;
  readonly txt: string[];
}

interface Group {
  path: string;
  interfaceIndexes: number[];
  state: number;
  name: string;
  port: number;
  txt: string[];
}

export class AvahiPublisher {
  private announcement: AvahiAnnouncement | undefined;
  private currentName: string | undefined;
  private renames = 0;
  private group: Group | undefined;

  constructor(private readonly ctx: AvahiPublisherContext) {}

  /** Whether there is something to announce. */
  get announced(): boolean {
    return this.announcement !== undefined;
  }

  /** The announcement to publish next; a new instance name starts the renames afresh. */
  set(announcement: AvahiAnnouncement): void {
    const previous = this.announcement;
    this.announcement = announcement;
    if (previous?.instanceName !== announcement.instanceName) {
      this.currentName = announcement.instanceName;
      this.renames = 0;
    }
  }

  /** Nothing to announce any more; the entry group is freed (Avahi sends the goodbyes). */
  async withdraw(): Promise<void> {
    this.announcement = undefined;
    await this.freeGroup();
  }

  /** The bus connection is gone (or Avahi restarted): the entry group path is void. */
  forget(): void {
    this.group = undefined;
  }

  /** Avahi's server state changed (host name registration, SHIP §7.1 conflicts). */
  onServerState(state: number, bus: AvahiBusPort): void {
    if (state === AvahiServerState.COLLISION || state === AvahiServerState.REGISTERING) {
      // Avahi's rule: reset entry groups while the host name is (re)registered.
      const group = this.group;
      if (group !== undefined) {
        group.state = AvahiEntryGroupState.UNCOMMITED;
        void bus
          .call(group.path, AVAHI_ENTRY_GROUP_INTERFACE, 'Reset')
          .catch((error: unknown) => this.ctx.logger.debug({ err: error }, 'avahi: Reset failed'));
      }
    } else if (state === AvahiServerState.RUNNING) {
      const group = this.group;
      const registered =
        group !== undefined &&
        (group.state === AvahiEntryGroupState.REGISTERING ||
          group.state === AvahiEntryGroupState.ESTABLISHED);
      if (this.announcement !== undefined && !registered) {
        void this.ctx
          .enqueue(() => this.publish(bus))
          .catch((error: unknown) =>
            this.ctx.logger.error({ err: error }, 'avahi: registering again failed'),
          );
      }
    }
  }

  /** Registers (or updates) the entry group for the announcement on the allowed interfaces. */
  async publish(bus: AvahiBusPort, force = false): Promise<void> {
    const announcement = this.announcement;
    if (announcement === undefined || this.ctx.isClosed()) return;
    const name = this.currentName ?? announcement.instanceName;
    const indexes = await this.ctx.interfaceIndexes(bus);
    if (indexes.length === 0) {
      this.ctx.logger.warn(
        { interfaces: this.ctx.restriction },
        'avahi: none of the configured interfaces exists; announcing once one appears',
      );
      await this.freeGroup();
      this.ctx.schedulePoll();
      return;
    }
    const txt = txtToBuffers(announcement.txt);
    const group = this.group;
    if (
      !force &&
      group !== undefined &&
      group.name === name &&
      group.port === announcement.port &&
      group.interfaceIndexes.join(',') === indexes.join(',') &&
      (group.state === AvahiEntryGroupState.REGISTERING ||
        group.state === AvahiEntryGroupState.ESTABLISHED)
    ) {
      if (group.txt.join('\n') === announcement.txt.join('\n')) return;
      for (const index of indexes) {
        await bus.call(group.path, AVAHI_ENTRY_GROUP_INTERFACE, 'UpdateServiceTxt', 'iiusssaay', [
          index,
          AVAHI_PROTO_UNSPEC,
          0,
          name,
          SHIP_SERVICE_TYPE,
          '',
          txt,
        ]);
      }
      group.txt = announcement.txt;
      this.ctx.logger.info({ txt: announcement.txt }, 'avahi: TXT record updated');
      return;
    }

    let path = group?.path;
    if (path === undefined) {
      path = bodyString(await bus.server('EntryGroupNew'), 0);
      const groupPath = path;
      bus.subscribe(groupPath, (member, body) => this.onGroupSignal(groupPath, member, body));
    } else {
      await bus.call(path, AVAHI_ENTRY_GROUP_INTERFACE, 'Reset');
    }
    this.group = {
      path,
      interfaceIndexes: indexes,
      state: AvahiEntryGroupState.UNCOMMITED,
      name,
      port: announcement.port,
      txt: announcement.txt,
    };
    for (const index of indexes) {
      await bus.call(path, AVAHI_ENTRY_GROUP_INTERFACE, 'AddService', 'iiussssqaay', [
        index,
        AVAHI_PROTO_UNSPEC,
        0,
        name,
        SHIP_SERVICE_TYPE,
        '',
        '',
        announcement.port,
        txt,
      ]);
    }
    await bus.call(path, AVAHI_ENTRY_GROUP_INTERFACE, 'Commit');
    if (this.group.state === AvahiEntryGroupState.UNCOMMITED) {
      this.group.state = AvahiEntryGroupState.REGISTERING;
    }
    this.ctx.logger.debug(
      { name, port: announcement.port, indexes },
      'avahi: entry group committed',
    );
    this.ctx.schedulePoll();
  }

  private onGroupSignal(path: string, member: string, body: SignalBody): void {
    if (member !== 'StateChanged') return;
    const group = this.group;
    if (group?.path !== path) return;
    const state = bodyNumber(body, 0);
    const error = typeof body[1] === 'string' ? body[1] : '';
    group.state = state;
    const bus = this.ctx.bus();
    switch (state) {
      case AvahiEntryGroupState.ESTABLISHED:
        this.ctx.logger.info(
          { instanceName: group.name, port: group.port },
          'mdns: announced _ship._tcp (avahi)',
        );
        return;
      case AvahiEntryGroupState.COLLISION: {
        if (bus === undefined) return;
        if (this.renames >= MAX_COLLISION_RENAMES) {
          this.ctx.logger.error({ name: group.name }, 'avahi: too many name collisions, giving up');
          return;
        }
        this.renames += 1;
        void this.ctx
          .enqueue(async () => {
            const alternative = bodyString(
              await bus.server('GetAlternativeServiceName', 's', [group.name]),
              0,
            );
            // SHIP §7.1: on a name conflict the node picks a new instance name.
            this.ctx.logger.warn(
              { previous: group.name, name: alternative },
              'mdns: instance name conflict, renamed',
            );
            this.currentName = alternative;
            await this.publish(bus, true);
          })
          .catch((err: unknown) => this.ctx.logger.error({ err }, 'avahi: rename failed'));
        return;
      }
      case AvahiEntryGroupState.FAILURE:
        this.ctx.logger.error({ error, name: group.name }, 'avahi: announcing failed');
        return;
      default:
        return;
    }
  }

  private async freeGroup(): Promise<void> {
    const group = this.group;
    this.group = undefined;
    const bus = this.ctx.bus();
    if (group === undefined || bus === undefined) return;
    bus.unsubscribe(group.path);
    try {
      // Freeing the group makes Avahi send the goodbye packets.
      await bus.call(group.path, AVAHI_ENTRY_GROUP_INTERFACE, 'Free');
      this.ctx.logger.info({ instanceName: group.name }, 'mdns: announcement withdrawn');
    } catch (error: unknown) {
      this.ctx.logger.warn({ err: error }, 'avahi: freeing the entry group failed');
    }
  }
}
