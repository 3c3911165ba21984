/**
 * Network namespace fixtures for multicast tests (root only). Everything stays inside namespaces
 * this helper creates: two namespaces joined by one veth pair, no link to the root namespace, so no
 * mDNS packet can reach a real interface. Every wait is bounded; every namespace and process is
 * recorded and removed by `cleanupAll()` (also on process exit).
 *
 * Recipe after ../../shared/mdns-lab/REPORT.md §2: a private system D-Bus per namespace, and a
 * tmpfs over /run inside `ip netns exec` (which already gives a private mount namespace) so that
 * each avahi-daemon has its own /run/avahi-daemon/{pid,socket}.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const namespaces = new Set<string>();
const processes = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function which(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Why netns tests cannot run here, or undefined when they can. */
export function netnsSkipReason(tools: readonly string[]): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns); CI runs these as root';
  const missing = tools.filter((tool) => !which(tool));
  if (missing.length > 0) {
    return `missing ${missing.join(', ')} (apt-get install -y iproute2 avahi-daemon avahi-utils dbus)`;
  }
  return undefined;
}

function run(cmd: string, args: readonly string[]): void {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
  }
}

export interface VethLink {
  prefix: string;
  nsA: string;
  nsB: string;
  ifA: string;
  ifB: string;
  ipv4A: string;
  ipv4B: string;
  ipv6A: string;
  ipv6B: string;
}

/** A short unique prefix for namespace and interface names (IFNAMSIZ is 16). */
export function uniquePrefix(): string {
  return `md${randomBytes(3).toString('hex')}`;
}

/**
 * Two namespaces `<p>a` and `<p>b` joined by a veth pair `<p>x`/`<p>y` with 10.N.M.1-2/24 and
 * fd00:NNNN::1-2/64. Nothing else is attached.
 */
export function createVethLink(prefix = uniquePrefix()): VethLink {
  const nsA = `${prefix}a`;
  const nsB = `${prefix}b`;
  const ifA = `${prefix}x`;
  const ifB = `${prefix}y`;
  const n = randomBytes(2);
  const ipv4A = `10.${200 + (n[0]! % 50)}.${n[1]!}.1`;
  const ipv4B = ipv4A.replace(/\.1$/, '.2');
  const ipv6A = `fd00:${n.readUInt16BE(0).toString(16)}::1`;
  const ipv6B = `fd00:${n.readUInt16BE(0).toString(16)}::2`;
  run('ip', ['netns', 'add', nsA]);
  namespaces.add(nsA);
  run('ip', ['netns', 'add', nsB]);
  namespaces.add(nsB);
  const link = { prefix, nsA, nsB, ifA, ifB, ipv4A, ipv4B, ipv6A, ipv6B };
  addVeth(link);
  return link;
}

function addVeth(link: VethLink): void {
  run('ip', ['link', 'add', link.ifA, 'type', 'veth', 'peer', 'name', link.ifB]);
  run('ip', ['link', 'set', link.ifA, 'netns', link.nsA]);
  run('ip', ['link', 'set', link.ifB, 'netns', link.nsB]);
  for (const [ns, ifname, v4, v6] of [
    [link.nsA, link.ifA, link.ipv4A, link.ipv6A],
    [link.nsB, link.ifB, link.ipv4B, link.ipv6B],
  ] as const) {
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', ifname]);
    run('ip', ['-n', ns, '-6', 'addr', 'add', `${v6}/64`, 'dev', ifname, 'nodad']);
    run('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
  }
}

/**
 * Deletes the veth pair and creates it again under the same names and addresses (new kernel
 * interface indexes): what a container restart or a USB NIC replug looks like.
 */
export function recreateVeth(link: VethLink): void {
  run('ip', ['-n', link.nsA, 'link', 'del', link.ifA]);
  addVeth(link);
}

/** Waits (bounded) until the link-local IPv6 address of `ifname` has left DAD. */
export async function waitForLinkLocal(
  ns: string,
  ifname: string,
  timeoutMs = 5_000,
): Promise<void> {
  await waitUntil(() => {
    const out = spawnSync('ip', ['-n', ns, '-6', 'addr', 'show', 'dev', ifname, 'scope', 'link'], {
      encoding: 'utf8',
    }).stdout;
    return out.includes('fe80::') && !out.includes('tentative');
  }, timeoutMs);
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 100 ms until it holds or `timeoutMs` passes. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  // Bounded by a count of polls (timeoutMs / intervalMs), never by reading the clock.
  const polls = Math.max(1, Math.ceil(timeoutMs / intervalMs));
  for (let i = 0; i < polls; i++) {
    if (await predicate()) return true;
    await sleep(intervalMs);
  }
  return predicate();
}

export interface PrivateAvahi {
  ns: string;
  dir: string;
  busAddress: string;
  hostName: string;
  log: () => string;
  /** Stops avahi-daemon and starts it again on the same bus (it gets a new bus name). */
  restartDaemon: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * A private dbus-daemon + avahi-daemon inside `ns`, restricted to `ifname`. Resolves once Avahi
 * logged "Server startup complete" (10 s at most).
 */
export async function startPrivateAvahi(
  ns: string,
  ifname: string,
  hostName: string,
): Promise<PrivateAvahi> {
  const dir = mkdtempSync(join(tmpdir(), `mdns-${ns}-`));
  tempDirs.add(dir);
  mkdirSync(join(dir, 'services'));
  const busSocket = join(dir, 'bus.sock');
  writeFileSync(
    join(dir, 'bus.conf'),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${busSocket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`,
  );
  // Generated in one go: avahi uses the first occurrence of a duplicated key.
  writeFileSync(
    join(dir, 'avahi-daemon.conf'),
    [
      '[server]',
      `host-name=${hostName}`,
      'domain-name=local',
      'use-ipv4=yes',
      'use-ipv6=yes',
      `allow-interfaces=${ifname}`,
      'enable-dbus=yes',
      'ratelimit-interval-usec=1000000',
      'ratelimit-burst=1000',
      '[wide-area]',
      'enable-wide-area=no',
      '[publish]',
      'publish-hinfo=no',
      'publish-workstation=no',
      '',
    ].join('\n'),
  );
  // The bus runs as our own child (unix sockets are not tied to a network namespace).
  const dbusDaemon = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'dbus-daemon',
      `--config-file=${dir}/bus.conf`,
      '--nofork',
      '--nopidfile',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  processes.add(dbusDaemon);
  if (!(await waitUntil(() => existsSync(busSocket), 5_000))) {
    await stopProcess(dbusDaemon);
    throw new Error(`dbus-daemon in ${ns} did not create ${busSocket}`);
  }
  const prologue = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    `mount --bind '${dir}/services' /etc/avahi/services`,
  ];
  const execAvahi = [
    `export DBUS_SYSTEM_BUS_ADDRESS='unix:path=${busSocket}'`,
    `exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f '${dir}/avahi-daemon.conf'`,
  ];
  let log = '';
  const launch = async (): Promise<ChildProcess> => {
    const script = [...prologue, ...execAvahi].join('\n');
    const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.add(child);
    const mark = log.length;
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const started = await waitUntil(
      () => log.slice(mark).includes('Server startup complete'),
      10_000,
    );
    if (!started) {
      await stopProcess(child);
      throw new Error(`avahi-daemon in ${ns} did not start:\n${log}`);
    }
    return child;
  };
  let daemon: ChildProcess;
  try {
    daemon = await launch();
  } catch (error) {
    await stopProcess(dbusDaemon);
    throw error;
  }
  return {
    ns,
    dir,
    busAddress: `unix:path=${busSocket}`,
    hostName,
    log: () => log,
    restartDaemon: async () => {
      await stopProcess(daemon);
      daemon = await launch();
    },
    stop: async () => {
      await stopProcess(daemon);
      await stopProcess(dbusDaemon);
    },
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 3_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    processes.delete(child);
    return child.exitCode;
  }
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const code = await exited;
  clearTimeout(timer);
  processes.delete(child);
  return code;
}

export interface JsonLineChild {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Resolves with the first line (past or future) matching `predicate`, or undefined on timeout. */
  waitFor: (
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ) => Promise<Record<string, unknown> | undefined>;
  exited: Promise<number | null>;
}

/**
 * Runs a command inside `ns` with its own UTS namespace and host name, collecting JSON lines
 * from its stdout.
 */
export function spawnInNamespace(
  ns: string,
  hostName: string,
  command: readonly string[],
  env: Record<string, string> = {},
): JsonLineChild {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'unshare',
      '--uts',
      'sh',
      '-c',
      'hostname "$0" && exec "$@"',
      hostName,
      ...command,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  processes.add(child);
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as Record<string, unknown>);
    } catch {
      lines.push({ ev: 'raw', text });
    }
    for (const wake of [...waiters]) wake();
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 2_000_000) stderr = stderr.slice(-1_000_000);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  void exited.then(() => {
    processes.delete(child);
    for (const wake of [...waiters]) wake();
  });
  const waitFor: JsonLineChild['waitFor'] = (predicate, timeoutMs) =>
    new Promise((resolve) => {
      const check = () => {
        const found = lines.find(predicate);
        if (found !== undefined) {
          finish(found);
        }
      };
      const finish = (value: Record<string, unknown> | undefined) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => finish(lines.find(predicate)), timeoutMs);
      waiters.add(check);
      check();
    });
  return { child, lines, stderr: () => stderr, waitFor, exited };
}

/** Runs a short command in `ns` (bounded by `timeoutMs`) and returns its stdout. */
export function execInNamespace(
  ns: string,
  command: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    processes.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      processes.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Removes one link's namespaces (processes inside must be stopped first). */
export function deleteLink(link: VethLink): void {
  for (const ns of [link.nsA, link.nsB]) {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
    namespaces.delete(ns);
  }
}

/** Stops every recorded process, deletes every namespace and temp dir. Synchronous. */
export function cleanupAll(): void {
  for (const child of processes) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  processes.clear();
  for (const ns of namespaces)
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 10_000 });
  namespaces.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.on('exit', cleanupAll);
