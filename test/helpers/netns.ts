/**
 * Throwaway network namespaces for tests that drive the real kernel (nft, iptables, packets).
 * Every name carries a per-run prefix so parallel runs never collide, and every namespace is
 * deleted by `dispose()` (call it in afterAll/afterEach). Nothing here touches the root
 * namespace's ruleset: all commands run through `ip netns exec <name>`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const RUN_PREFIX = `ipmt${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
let counter = 0;

export interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function execFile(argv: readonly string[], stdin?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error('empty argv'));
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    // A command that exits without reading its stdin must not crash the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}

/** Runs argv and throws with its stderr unless it exits 0. */
export async function mustExec(argv: readonly string[], stdin?: string): Promise<string> {
  const r = await execFile(argv, stdin);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

export class Netns {
  readonly name: string;
  private disposed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates a namespace with loopback up. `label` only makes names readable (≤ 6 chars). */
  static async create(label: string): Promise<Netns> {
    const name = `${RUN_PREFIX}-${label.slice(0, 6)}${counter++}`;
    await mustExec(['ip', 'netns', 'add', name]);
    const ns = new Netns(name);
    await ns.mustExec(['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** argv prefix that runs a command inside this namespace. */
  prefix(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  /** argv for nft inside this namespace (what NftClient takes as `argv`). */
  nftArgv(nftPath = 'nft'): string[] {
    return [...this.prefix(), nftPath];
  }

  exec(argv: readonly string[], stdin?: string): Promise<ExecResult> {
    return execFile([...this.prefix(), ...argv], stdin);
  }

  mustExec(argv: readonly string[], stdin?: string): Promise<string> {
    return mustExec([...this.prefix(), ...argv], stdin);
  }

  /** `nft -j list ruleset` parsed, without the metainfo entry (it carries the nft version). */
  async ruleset(): Promise<unknown[]> {
    const out = await this.mustExec(['nft', '-j', 'list', 'ruleset']);
    const parsed = JSON.parse(out) as { nftables: Record<string, unknown>[] };
    return parsed.nftables.filter((o) => !('metainfo' in o));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await execFile(['ip', 'netns', 'del', this.name]);
  }
}

/** A veth pair between two namespaces, each end with an address (CIDR notation). */
export async function link(
  a: Netns,
  aAddr: string,
  b: Netns,
  bAddr: string,
): Promise<{ aIf: string; bIf: string }> {
  const id = (counter++).toString(36);
  const aIf = `v${id}a`;
  const bIf = `v${id}b`;
  await mustExec([
    'ip',
    'link',
    'add',
    aIf,
    'netns',
    a.name,
    'type',
    'veth',
    'peer',
    'name',
    bIf,
    'netns',
    b.name,
  ]);
  for (const [ns, ifn, addr] of [
    [a, aIf, aAddr],
    [b, bIf, bAddr],
  ] as const) {
    const family = addr.includes(':') ? ['-6'] : [];
    await ns.mustExec([
      'ip',
      ...family,
      'addr',
      'add',
      addr,
      'dev',
      ifn,
      ...(addr.includes(':') ? ['nodad'] : []),
    ]);
    await ns.mustExec(['ip', 'link', 'set', ifn, 'up']);
  }
  return { aIf, bIf };
}

/**
 * Why this process cannot run kernel tests (not root, no nft, ip or one of `tools`), or null
 * when it can.
 */
export function netnsUnavailable(tools: readonly string[] = []): string | null {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need CAP_SYS_ADMIN)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'ip (iproute2) is not installed';
  for (const tool of ['nft', ...tools])
    if (spawnSync(tool, ['--version']).status !== 0) return `${tool} is not installed`;
  return null;
}

let skipReported = false;

/**
 * The one gate of every test that needs root and throwaway namespaces:
 * `describe.runIf(canUseNetns())(…)`, with the extra binaries a suite drives (e.g.
 * `['iptables-legacy']`). Without them the suite is skipped with one clear reason
 * (`make check`, a developer's laptop); under `make test` (and so CI), which exports
 * IP_MASQ_REQUIRE_ROOT=1, a suite that would be skipped fails instead.
 */
export function canUseNetns(tools: readonly string[] = []): boolean {
  const why = netnsUnavailable(tools);
  if (why === null) return true;
  if (process.env['IP_MASQ_REQUIRE_ROOT'] === '1')
    throw new Error(
      `kernel tests cannot run: ${why}; make test requires them (IP_MASQ_REQUIRE_ROOT=1): run it as root with nftables and iproute2 installed`,
    );
  if (!skipReported) {
    skipReported = true;
    console.warn(`skipping kernel tests: ${why} (run "make test" as root to include them)`);
  }
  return false;
}

/** Deletes namespaces left by an earlier crashed run of this same prefix (best effort). */
export function sweepLeftovers(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith(`${RUN_PREFIX}-`)) spawnSync('ip', ['netns', 'del', name]);
  }
}
