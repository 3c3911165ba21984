/**
 * Loader for the SPINE golden data in test/golden/spine/vectors/ (a copy of the project's shared
 * spine-vectors: real devices' discovery replies and recorded SPINE sessions; see the README.md
 * there for sources and formats).
 *
 * Session files: every Section A line `#NNNN +SECONDS FROM>TO JSON` is one SHIP data message; the
 * older harness recording lists all SHIP messages as `date time dir type JSON` (type 02 = data);
 * the NDJSON recording has one SPINE payload (`{"datagram":…}`) per line.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The vectors folder, found by walking up from this file (works from build/ and from test/). */
export function spineVectorsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'test', 'golden', 'spine', 'vectors');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('test/golden/spine/vectors not found');
}

/** One recorded SPINE datagram: where it came from and its JSON text (the SHIP data payload). */
export interface RecordedDatagram {
  file: string;
  /** `#0007` or line number for the harness/NDJSON files. */
  id: string;
  /** `HP>HEMS`, `in`, `->`, … as recorded. */
  direction: string;
  /** Text of the SHIP data payload value, i.e. `{"datagram":…}`, exactly as on the wire. */
  payloadText: string;
}

const SECTION_A = /^#(\d{4}) +([+-]\d+\.\d{4}) (\S+?)>(\S+) (\{.*\})$/;
const HARNESS = /^\S+ \S+ (<-|->) 02 (\{.*\})$/;

/**
 * The payload text inside a SHIP data message text, cut out textually so that numbers are not
 * re-serialised: `{"data":[{"header":[…]},{"payload":<HERE>}]}`.
 */
function payloadOf(shipDataText: string): string {
  const marker = '{"payload":';
  const start = shipDataText.indexOf(marker);
  if (start < 0) throw new Error('no payload in a SHIP data message');
  const end = shipDataText.lastIndexOf('}]}');
  return shipDataText.slice(start + marker.length, end);
}

/** Every recorded SPINE datagram of every session file. */
export function loadSessionDatagrams(): RecordedDatagram[] {
  const dir = join(spineVectorsDir(), 'sessions');
  const out: RecordedDatagram[] = [];
  for (const file of readdirSync(dir).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (file.endsWith('.ndjson')) {
        if (line.trim() === '') return;
        const record = JSON.parse(line) as { dir: string; payload: unknown };
        // Cut the raw payload text too, for exact 64-bit reading.
        const at = line.indexOf('"payload":');
        out.push({
          file,
          id: `line ${index + 1}`,
          direction: record.dir,
          payloadText: line.slice(at + '"payload":'.length, line.lastIndexOf('}')),
        });
        return;
      }
      const a = SECTION_A.exec(line);
      if (a !== null) {
        out.push({
          file,
          id: `#${a[1]}`,
          direction: `${a[3]}>${a[4]}`,
          payloadText: payloadOf(a[5]!),
        });
        return;
      }
      const h = HARNESS.exec(line);
      if (h !== null) {
        out.push({
          file,
          id: `line ${index + 1}`,
          direction: h[1]!,
          payloadText: payloadOf(h[2]!),
        });
      }
    });
  }
  return out;
}

/** Names of the device folders (each has discovery data in object and/or wire form). */
export function deviceFolders(): string[] {
  const dir = join(spineVectorsDir(), 'devices');
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'schema')
    .map((entry) => entry.name)
    .sort();
}

/** A device's recorded file (path relative to its folder), parsed with JSON.parse. */
export function loadDeviceFile(folder: string, name: string): unknown {
  return JSON.parse(readFileSync(join(spineVectorsDir(), 'devices', folder, name), 'utf8'));
}

/** Whether a device's recorded file exists. */
export function hasDeviceFile(folder: string, name: string): boolean {
  return existsSync(join(spineVectorsDir(), 'devices', folder, name));
}

/** Every discovery-related file of a device folder: object form and wire forms. */
export function deviceDiscoveryFiles(folder: string): string[] {
  const dir = join(spineVectorsDir(), 'devices', folder);
  const files: string[] = [];
  if (existsSync(join(dir, 'discovery-data.json'))) files.push('discovery-data.json');
  if (existsSync(join(dir, 'wire'))) {
    for (const name of readdirSync(join(dir, 'wire')).sort()) {
      if (name.startsWith('discovery-data')) files.push(`wire/${name}`);
    }
  }
  return files;
}
