/**
 * `ip-masq run` as a child process (the built bundle, dist/ip-masq.js) inside a throwaway
 * network namespace, with its NDJSON log parsed line by line so tests wait for what the daemon
 * says it did. All waits poll a condition with a generous timeout; nothing asserts a duration.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Netns } from '../helpers/netns.js';

export const BUNDLE = resolve('dist/ip-masq.js');

/** The real nft (the wrapper must not find itself on PATH). */
const REAL_NFT =
  spawnSync('sh', ['-c', 'command -v nft'], { encoding: 'utf8' }).stdout.trim() || '/usr/sbin/nft';

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export function bundleBuilt(): boolean {
  return existsSync(BUNDLE);
}

export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 20_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A namespace plus a config directory, state directory and an nft wrapper the test can break. */
export class DaemonSandbox {
  readonly root: string;
  readonly configDir: string;
  readonly configPath: string;
  readonly stateDir: string;
  /** `--nft` points here: a script that execs the real nft, replaceable by a broken one. */
  readonly nftWrapper: string;
  /** systemd-notify stand-in (first on PATH): appends its arguments to notify.log. */
  readonly notifyLog: string;
  private readonly binDir: string;

  private constructor(
    readonly ns: Netns,
    root: string,
  ) {
    this.root = root;
    this.configDir = join(root, 'etc', 'ip-masq');
    this.configPath = join(this.configDir, 'config.yaml');
    this.stateDir = join(root, 'state');
    this.binDir = join(root, 'bin');
    this.nftWrapper = join(this.binDir, 'nft');
    this.notifyLog = join(root, 'notify.log');
    mkdirSync(this.configDir, { recursive: true });
    mkdirSync(this.binDir, { recursive: true, mode: 0o755 });
    chmodSync(root, 0o755);
    this.fixNft();
    const notify = join(this.binDir, 'systemd-notify');
    writeFileSync(notify, `#!/bin/sh\necho "$*" >> ${this.notifyLog}\n`);
    chmodSync(notify, 0o755);
  }

  static async create(label: string): Promise<DaemonSandbox> {
    const ns = await Netns.create(label);
    const root = mkdtempSync(join(tmpdir(), `ipm-rel-${label}-`));
    return new DaemonSandbox(ns, root);
  }

  writeConfig(text: string): void {
    // Editors' way: temp file + rename, so the daemon never reads a half-written file.
    const tmp = `${this.configPath}.tmp`;
    writeFileSync(tmp, text);
    spawnSync('mv', ['-f', tmp, this.configPath]);
  }

  /** nft works (the wrapper execs the real binary). */
  fixNft(): void {
    this.replaceNftWrapper(`#!/bin/sh\nexec ${REAL_NFT} "$@"\n`);
  }

  /** nft fails like a kernel without nf_tables would. */
  breakNft(): void {
    this.replaceNftWrapper(
      '#!/bin/sh\necho "Error: Could not process rule: Operation not supported" >&2\nexit 1\n',
    );
  }

  /**
   * Swap the wrapper by rename: the daemon's long-lived `nft monitor` children keep the old
   * inode open for exec, and writing into it in place fails with ETXTBSY.
   */
  private replaceNftWrapper(script: string): void {
    const tmp = `${this.nftWrapper}.tmp`;
    writeFileSync(tmp, script, { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, this.nftWrapper);
  }

  /** nft is not installed. */
  removeNft(): void {
    rmSync(this.nftWrapper, { force: true });
  }

  notifications(): string[] {
    return existsSync(this.notifyLog)
      ? readFileSync(this.notifyLog, 'utf8').split('\n').filter(Boolean)
      : [];
  }

  /** `nft -j list ruleset` with counters zeroed (traffic is not what we compare). */
  async rulesetText(): Promise<string> {
    const out = await this.ns.mustExec(['nft', '-j', 'list', 'ruleset']);
    return out.replace(
      /"counter": \{"packets": \d+, "bytes": \d+\}/g,
      '"counter": {"packets": 0, "bytes": 0}',
    );
  }

  /** Elements of our nomasq set as nft prints them, or null when the table is missing. */
  async nomasq(family: 'ip' | 'ip6' = 'ip'): Promise<string[] | null> {
    const r = await this.ns.exec(['nft', '-j', 'list', 'table', family, 'ip-masq']);
    if (r.status !== 0) return null;
    const objs = (
      JSON.parse(r.stdout) as {
        nftables: Array<Record<string, { name?: string; elem?: unknown[] }>>;
      }
    ).nftables;
    const set = objs.find((o) => o.set?.name === 'nomasq')?.set;
    return (set?.elem ?? []).map((e) =>
      typeof e === 'string'
        ? `${e}/32`
        : `${(e as { prefix: { addr: string; len: number } }).prefix.addr}/${(e as { prefix: { len: number } }).prefix.len}`,
    );
  }

  async start(
    options: { extraArgs?: string[]; capNetAdminOnly?: boolean; env?: Record<string, string> } = {},
  ): Promise<DaemonChild> {
    return DaemonChild.start(this, options);
  }

  async dispose(): Promise<void> {
    // SIGKILLed daemons leave their `nft monitor` child behind: it would outlive the namespace.
    const pids = spawnSync('ip', ['netns', 'pids', this.ns.name], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean);
    for (const pid of pids) spawnSync('kill', ['-9', pid]);
    await this.ns.dispose();
    rmSync(this.root, { recursive: true, force: true });
  }
}

export class DaemonChild {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly sandbox: DaemonSandbox,
    readonly child: ChildProcess,
  ) {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: `<unparsed> ${line}` });
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => this.stderr.push(d));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      }),
    );
  }

  static async start(
    sandbox: DaemonSandbox,
    options: { extraArgs?: string[]; capNetAdminOnly?: boolean; env?: Record<string, string> },
  ): Promise<DaemonChild> {
    // Without CAP_DAC_OVERRIDE root cannot read a mode-000 file: that is how "unreadable" is provoked.
    const priv = options.capNetAdminOnly
      ? ['setpriv', '--bounding-set=-all,+net_admin', '--inh-caps=-all', '--']
      : [];
    const argv = [
      'ip',
      'netns',
      'exec',
      sandbox.ns.name,
      ...priv,
      process.execPath,
      BUNDLE,
      'run',
      '--config',
      sandbox.configPath,
      '--state-dir',
      sandbox.stateDir,
      '--nft',
      sandbox.nftWrapper,
      '--log-level',
      'debug',
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${join(sandbox.root, 'bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
        NOTIFY_SOCKET: '/run/ip-masq-test/notify',
        ...options.env,
      },
    });
    return new DaemonChild(sandbox, child);
  }

  get alive(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  find(pred: (l: LogLine) => boolean): LogLine | undefined {
    return this.lines.find(pred);
  }

  count(pred: (l: LogLine) => boolean): number {
    return this.lines.filter(pred).length;
  }

  /** Waits for a log line (searching from index `from`). */
  async waitForLine(
    what: string,
    pred: (l: LogLine) => boolean,
    from = 0,
    timeoutMs = 20_000,
  ): Promise<LogLine> {
    return waitFor(
      what,
      () => {
        if (!this.alive)
          throw new Error(
            `daemon exited (${this.exitCode ?? this.exitSignal}): ${this.stderr.join('').slice(-2000)}`,
          );
        return this.lines.slice(from).find(pred);
      },
      timeoutMs,
    );
  }

  ready(): Promise<LogLine> {
    return this.waitForLine('ready', (l) => l.msg === 'ready');
  }

  /** Number of passes started so far (from the debug log). */
  passesStarted(): number {
    return this.count((l) => l.msg === 'pass started');
  }

  /**
   * Waits until a pass that started after `mark` (a passesStarted() value) has finished and
   * no further pass is running: the daemon has seen everything done before the mark.
   */
  async settledAfter(mark: number, timeoutMs = 20_000): Promise<LogLine> {
    return waitFor(
      `a finished pass after #${mark}`,
      () => {
        if (!this.alive)
          throw new Error(
            `daemon exited (${this.exitCode ?? this.exitSignal}): ${this.stderr.join('').slice(-2000)}`,
          );
        const done = this.lines.filter((l) => l.msg === 'pass done');
        const started = this.passesStarted();
        const last = done[done.length - 1];
        return last && (last.pass as number) > mark && (last.pass as number) === started
          ? last
          : undefined;
      },
      timeoutMs,
    );
  }

  /** Waits until the daemon has logged nothing for `quietMs` (e.g. the echo of its own apply). */
  async quiet(quietMs = 300, timeoutMs = 20_000): Promise<void> {
    let count = this.lines.length;
    let since = Date.now();
    await waitFor(
      `${quietMs} ms without a log line`,
      () => {
        if (this.lines.length !== count) {
          count = this.lines.length;
          since = Date.now();
        }
        return Date.now() - since >= quietMs;
      },
      timeoutMs,
    );
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async stop(): Promise<number | null> {
    if (this.alive) this.child.kill('SIGTERM');
    await this.exited;
    return this.exitCode;
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  waitExit(): Promise<void> {
    return this.exited;
  }
}
