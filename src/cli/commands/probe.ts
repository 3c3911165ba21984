/**
 * `ship-hub probe HOST:PORT [--ski SKI] [--json]`: the installer's diagnostic. Dials a device
 * with our identity, walks the SHIP handshake and prints each phase with its duration, and any
 * failure in plain words. Exit code 0 only if data exchange was reached.
 *
 * The device is the one being diagnosed, so nothing it sends is trusted: its SHIP ID, close
 * reason and certificate texts (quoted in failure messages) are escaped in the human lines, and
 * the JSON lines go through terminalJson.
 */
import { parseSki, type Ski } from '../../ship/ski.js';
import type { SmeFailure } from '../../ship/handshake/index.js';
import { ShipHubError } from '../../ship/errors.js';
import { connectShip, explainDialError, type DialProgress } from '../../transport/ship-client.js';
import type { ShipConnection } from '../../transport/ship-connection.js';
import { createShipTlsContext, connectShipTls, peerSkiOf } from '../../transport/tls.js';
import type { NodeIdentity } from '../../trust/identity.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { safeTerminalText, terminalJson } from '../../util/terminal-text.js';

export interface ProbeOptions {
  readonly target: string;
  readonly ski?: string;
  readonly json: boolean;
  readonly timeoutMs: number;
  readonly identity: NodeIdentity;
  /** The identity is a throwaway one (--temporary-identity, or no hub identity found). */
  readonly temporaryIdentity?: boolean;
  readonly localShipId: string;
  readonly write: (line: string) => void;
  readonly clock?: Clock;
}

/** Parses HOST:PORT, [IPv6]:PORT; the port defaults to 4712. */
export function parseTarget(text: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1] ?? '', port: Number(bracketed[2] ?? 4712) };
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = text.split(':');
    const n = Number(port);
    if (!host || !Number.isInteger(n) || n < 1 || n > 65535) {
      throw new TypeError(`not a HOST:PORT: "${text}"`);
    }
    return { host, port: n };
  }
  if (colons === 0 && text !== '') return { host: text, port: 4712 };
  // A bare IPv6 address without port.
  return { host: text, port: 4712 };
}

const PHASE_WORDS: Record<string, string> = {
  cmi: 'CMI (connection mode initialisation)',
  hello: 'hello (trust)',
  protocol: 'protocol handshake',
  pin: 'PIN verification',
  data: 'data exchange',
  closing: 'closing',
  closed: 'closed',
};

/** Runs the probe; resolves with the process exit code. */
export async function runProbe(options: ProbeOptions): Promise<number> {
  // What to approve on the device: our SKI, unless it is a throwaway one nobody should approve.
  const approveAdvice =
    options.temporaryIdentity === true
      ? `this probe's identity (SKI ${options.identity.ski}) is temporary, approving it is of ` +
        "no use: probe with the hub's identity (--config, without --temporary-identity) and " +
        "approve the hub's SKI on the device"
      : `approve SKI ${options.identity.ski} on the device`;
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const elapsed = () => Math.round((clock.now() - started) * 100) / 100;
  const out = (event: string, fields: Record<string, unknown>, human: string) => {
    if (options.json) {
      options.write(terminalJson({ event, elapsed_ms: elapsed(), ...fields }));
    } else {
      options.write(`[${elapsed().toFixed(1).padStart(8)} ms] ${human}`);
    }
  };
  const { host, port } = parseTarget(options.target);
  const tls = createShipTlsContext(options.identity);
  out(
    'start',
    { phase: 'tcp', host, port, local_ski: options.identity.ski },
    `probing ${host}:${port} as SKI ${options.identity.ski}`,
  );

  let expected: Ski | undefined;
  if (options.ski !== undefined) {
    expected = parseSki(options.ski);
    if (expected === undefined) {
      out(
        'error',
        { phase: 'input' },
        `not an SKI: "${safeTerminalText(options.ski)}" (40 hex digits expected)`,
      );
      return 2;
    }
  } else {
    // Without --ski: learn the device's SKI from its certificate, then dial again expecting it.
    let learnPhase: 'tcp' | 'tls' = 'tcp';
    try {
      const socket = await connectShipTls({
        host,
        port,
        ctx: tls,
        timeoutMs: options.timeoutMs,
        clock,
        onTcpConnected: () => (learnPhase = 'tls'),
      });
      const identified = peerSkiOf(socket, { ownSki: options.identity.ski });
      socket.destroy();
      if (!identified.ok) {
        out(
          'failed',
          { phase: 'tls', ...errorFields(identified.error) },
          explain(identified.error),
        );
        return 1;
      }
      expected = identified.ski;
      out(
        'learned_ski',
        { phase: 'tls', ski: expected },
        // A first, short connection only to read the certificate: the phases that follow are
        // those of the second one, which expects this SKI.
        `a first connection shows the device's SKI ${expected} (pass --ski to insist on one); ` +
          'connecting again expecting it',
      );
    } catch (err) {
      const explained = explainDialError(err, { host, port });
      out('failed', { phase: learnPhase, ...errorFields(explained) }, explain(explained));
      return 1;
    }
  }

  // The phase a failed dial failed in: the one after the last step it completed.
  let dialPhase: 'tcp' | 'tls' | 'websocket' = 'tcp';
  const onProgress = (p: DialProgress) => {
    switch (p.step) {
      case 'tcp':
        dialPhase = 'tls';
        out(
          'tcp',
          { phase: 'tcp', duration_ms: round(p.durationMs) },
          `TCP connected in ${round(p.durationMs)} ms`,
        );
        return;
      case 'tcp+tls':
        out(
          'tls',
          {
            phase: 'tls',
            duration_ms: round(p.durationMs),
            protocol: p.protocol,
            cipher: p.cipher,
          },
          `TCP + TLS done in ${round(p.durationMs)} ms (${p.protocol}, ${p.cipher})`,
        );
        return;
      case 'identified':
        dialPhase = 'websocket';
        out(
          'identified',
          { phase: 'tls', ski: p.ski, legacy_ski: p.legacySki },
          `device identified by SKI ${p.ski}`,
        );
        return;
      case 'websocket':
        out(
          'websocket',
          { phase: 'websocket', duration_ms: round(p.durationMs) },
          `WebSocket upgrade with subprotocol "ship" done in ${round(p.durationMs)} ms`,
        );
        return;
    }
  };

  // Once the outcome is known the probe closes the connection; its states are no news then.
  let reportStates = true;
  let connection: ShipConnection;
  try {
    connection = await connectShip(
      {
        host,
        port,
        expectedSki: expected,
        tls,
        localSki: options.identity.ski,
        localShipId: options.localShipId,
        clock,
        timeoutMs: options.timeoutMs,
        onConnection: (c) => attach(c),
      },
      onProgress,
    );
  } catch (err) {
    out('failed', { phase: dialPhase, ...errorFields(err) }, explain(err));
    return 1;
  }

  function attach(c: ShipConnection) {
    c.on('state', (from, to, phase, durationMs) => {
      if (!reportStates) return;
      out(
        'state',
        { phase, from, to, duration_ms: round(durationMs) },
        `${PHASE_WORDS[phase] ?? phase}: ${to} (${from} took ${round(durationMs)} ms)`,
      );
    });
    c.on('peerPending', (waiting) =>
      out(
        'peer_pending',
        { phase: 'hello', waiting_ms: waiting },
        `the device does not trust us yet: ${approveAdvice}` +
          (waiting !== undefined
            ? ` (it announced a wait of ${Math.round(waiting / 1000)} s, which it may extend)`
            : ''),
      ),
    );
    c.on('prolongationGranted', (count) =>
      out('prolongation', { phase: 'hello', count }, `the device asked for more time (${count})`),
    );
    c.on('shipId', (shipId) =>
      out(
        'ship_id',
        { phase: 'data', ship_id: shipId },
        `the device's SHIP ID is "${safeTerminalText(shipId)}"`,
      ),
    );
  }

  const result = await new Promise<{ ok: boolean; failure?: SmeFailure }>((resolve) => {
    const deadline = clock.setTimer('probeTimeout', options.timeoutMs, () => {
      resolve({
        ok: false,
        failure: {
          code: 'SHIPHUB_ERR_HELLO_TIMEOUT',
          phase: 'hello',
          message: `no data exchange within ${options.timeoutMs / 1000} s`,
          hint: `${approveAdvice}, or raise --timeout`,
        },
      });
    });
    connection.once('complete', () => {
      deadline.cancel();
      resolve({ ok: true });
    });
    connection.once('closed', (info) => {
      deadline.cancel();
      resolve(
        info.reachedDataExchange
          ? { ok: true }
          : info.failure !== undefined
            ? { ok: false, failure: info.failure }
            : { ok: false },
      );
    });
  });

  reportStates = false;
  if (result.ok) {
    out(
      'data_exchange',
      { phase: 'data', ship_id: connection.remoteShipId },
      `data exchange reached: the device speaks SHIP with us (SHIP ID "${safeTerminalText(connection.remoteShipId ?? '?')}")`,
    );
    await connection.close();
    out('done', { phase: 'closed', ok: true }, 'closed with a SHIP close; probe OK');
    return 0;
  }
  const early = result.failure?.phase === 'cmi' || result.failure?.phase === 'hello';
  // A device that does not trust a throwaway identity: the failure's own hint ("approve this
  // node on the device, then it reconnects") would contradict the advice given for it.
  const failure =
    result.failure !== undefined && early && options.temporaryIdentity === true
      ? { ...result.failure, hint: approveAdvice }
      : result.failure;
  out(
    'failed',
    {
      phase: failure?.phase ?? 'unknown',
      code: failure?.code,
      message: failure?.message ?? 'the connection ended before data exchange',
      hint: failure?.hint,
      ...(early ? { local_ski: options.identity.ski } : {}),
    },
    describeFailure(failure) + (early ? `\n    our SKI: ${options.identity.ski}` : ''),
  );
  await connection.terminate(4500, 'probe done');
  return 1;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The JSON fields of a failure: code, message and hint, as the human line has them. */
function errorFields(err: unknown): { code?: string; message: string; hint?: string } {
  if (err instanceof ShipHubError) {
    return {
      code: err.code,
      message: err.message,
      ...(err.hint !== undefined ? { hint: err.hint } : {}),
    };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

/** The human text of a failed handshake; message and hint may quote the device, so escaped. */
export function describeFailure(failure: SmeFailure | undefined): string {
  if (failure === undefined) return 'the connection ended before data exchange';
  return (
    `failed in ${PHASE_WORDS[failure.phase] ?? safeTerminalText(failure.phase)}: ` +
    safeTerminalText(failure.message) +
    (failure.hint ? `\n    what to do: ${safeTerminalText(failure.hint)}` : '')
  );
}

/**
 * The human text of a failed dial: TLS and certificate errors can quote what the device
 * presented, so message and hint are escaped (each on its own line).
 */
export function explain(err: unknown): string {
  if (err instanceof ShipHubError) {
    const message = safeTerminalText(err.message);
    return err.hint ? `${message}\n    what to do: ${safeTerminalText(err.hint)}` : message;
  }
  return safeTerminalText(err instanceof Error ? err.message : String(err));
}
