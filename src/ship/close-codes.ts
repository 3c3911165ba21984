/**
 * WebSocket close codes used on SHIP connections. SHIP defines none of its own; these are the
 * conventions of the reference implementation (ship-go) that devices in the field expect.
 */
export const CloseCode = {
  /** RFC 6455 normal closure; ship-go uses it for the losing double connection (SHIP §12.2.2). */
  doubleConnection: 1000,
  /** RFC 6455: reserved opcode / protocol error (jeebus, SHIP §10.3). */
  protocolError: 1002,
  /** RFC 6455: a text frame where SHIP only allows binary (SHIP §10.3). */
  unsupportedData: 1003,
  /** RFC 6455: message too big. */
  messageTooBig: 1009,
  /** After a connectionClose exchange, and on every handshake error (ship-go). */
  shipClose: 4001,
  /** Hello aborted: "Node rejected by application" (ship-go, 1 s after the abort). */
  rejected: 4452,
  /** The application closed before data exchange, e.g. un-pairing (ship-go "User close"). */
  userClose: 4500,
} as const;

export const CloseReasonText = {
  doubleConnection: 'double connection',
  /** Ours, when a device's newer connection takes the place of its older one (SHIP §12.2.2). */
  replacedByNewer: 'replaced by a newer connection of the same device',
  shipClose: 'close',
  rejected: 'Node rejected by application',
  userClose: 'User close',
} as const;
