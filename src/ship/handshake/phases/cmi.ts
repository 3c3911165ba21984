/**
 * Connection mode initialisation, SHIP §13.4.3: the first message of both sides is `00 00`
 * (MessageType init, CmiHead 0); the client sends first, the server answers.
 */
import { encodeMessage } from '../../codec/index.js';
import { CMI_HEAD } from '../../messages.js';
import { failNow, failure, ignore, type PhaseHandler, type Step } from '../step-context.js';
import type { TimerId } from '../timers.js';
import { enterHello } from './hello.js';

const CMI_BYTES = encodeMessage({ kind: 'init', cmiHead: CMI_HEAD });

/** Before `start`: nothing is read and no timer runs. */
export const initPhase: PhaseHandler = {
  bytes: ignore,
  message: ignore,
  undecodable: ignore,
  timer: ignore,
};

export function onStart(s: Step): void {
  if (s.sub !== 'INIT') return;
  s.startTimer('cmi', s.config.timings.cmiTimeoutMs);
  if (s.config.role === 'client') {
    // CMI_STATE_CLIENT_SEND: the client speaks first.
    s.sendBytes(CMI_BYTES, 'init');
    s.goto('CMI_STATE_CLIENT_WAIT');
  } else {
    s.goto('CMI_STATE_SERVER_WAIT');
  }
}

function onCmiMessage(s: Step, bytes: Uint8Array): void {
  // CMI_STATE_*_EVALUATE: MessageType 0 and CmiHead 0. ship-go tolerates bytes after the head.
  const valid = bytes.length >= 2 && bytes[0] === 0x00 && bytes[1] === CMI_HEAD;
  if (s.config.role === 'server') {
    // SHIP §13.4.3 (TC_SHIP_CMI_001/005): the server answers with its own CMI even when the
    // client's is invalid ("CmiHead 0 is all I speak"), then closes. TC_SHIP_CMI_002/006: a
    // client closes without sending anything more.
    s.sendBytes(CMI_BYTES, 'init');
  }
  if (!valid) {
    failNow(
      s,
      failure(
        s,
        'SHIPHUB_ERR_CMI_INVALID',
        // Built only here: the valid case runs on every connection.
        `the partner's first message was ${hexPreview(bytes)} instead of the CMI message 00 00`,
        'the device does not speak SHIP 1.0 (or is not a SHIP node)',
      ),
    );
    return;
  }
  s.cancelTimer('cmi');
  enterHello(s);
}

/** CmiTimeout, SHIP §13.4.3: the partner's CMI message must arrive in time. */
function onCmiTimer(s: Step, id: TimerId): void {
  if (id !== 'cmi') return;
  failNow(
    s,
    failure(
      s,
      'SHIPHUB_ERR_CMI_TIMEOUT',
      `the device sent no CMI message within ${s.config.timings.cmiTimeoutMs / 1000} s`,
      'the peer accepted the connection but does not speak SHIP',
    ),
  );
}

function hexPreview(bytes: Uint8Array): string {
  const shown = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > 8 ? `${shown} …` : shown || '(empty)';
}

/** The CMI phase reads raw bytes: nothing is decoded before the partner proved it speaks SHIP. */
export const cmiPhase: PhaseHandler = {
  bytes: onCmiMessage,
  message: ignore,
  undecodable: ignore,
  timer: onCmiTimer,
};
