/**
 * A long-running `nft -j monitor [objects…]` child: one JSON object per line (`{"add":{"rule":{…}}}`,
 * `{"delete":{"table":{…}}}`), flushed per event (nft 1.0.6). It tells the daemon at once when
 * someone deletes, flushes or edits our tables (Debian's nftables.service runs `flush ruleset`)
 * or when flannel re-adds a MASQUERADE rule, so drift heals in milliseconds rather than at the
 * next resync.
 *
 * The child is run with the same argv prefix as the NftClient (so tests can run it inside a
 * network namespace), restarted with backoff when it dies, and killed on stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killGroup } from '../proc/run-bounded.js';
import { FAMILIES, TABLE_NAME } from '../plan/plan.js';
import { Backoff } from '../util/backoff.js';
import { LineSieve } from './line-sieve.js';

/** One monitor event, reduced to what the daemon routes on. */
export interface MonitorEvent {
  /** 'add' | 'delete' | 'replace' | … (the top-level key nft printed). */
  op: string;
  /** 'table' | 'chain' | 'rule' | 'set' | 'element' | … */
  kind: string;
  family: string;
  /** The table the object lives in (the table's own name for table events). */
  table: string;
  chain?: string;
  /** The object as nft printed it. */
  object: Record<string, unknown>;
}

/** Parses one monitor line; null for anything that is not a single object event. */
export function parseMonitorLine(line: string): MonitorEvent | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object') return null;
  const [op, body] = Object.entries(parsed as Record<string, unknown>)[0] ?? [];
  if (!op || !body || typeof body !== 'object') return null;
  const [kind, object] = Object.entries(body as Record<string, unknown>)[0] ?? [];
  if (!kind || !object || typeof object !== 'object') return null;
  const o = object as Record<string, unknown>;
  const family = typeof o.family === 'string' ? o.family : '';
  const table = kind === 'table' ? o.name : o.table;
  if (typeof table !== 'string') return null;
  const ev: MonitorEvent = { op, kind, family, table, object: o };
  if (typeof o.chain === 'string') ev.chain = o.chain;
  return ev;
}

/** What `nft monitor new` prints: appended, inserted (`iptables -I`) and exclusively created. */
const NEW_OPS: ReadonlySet<string> = new Set(['add', 'insert', 'create']);

const OBJECT_KINDS: Readonly<Record<string, string>> = {
  tables: 'table',
  chains: 'chain',
  sets: 'set',
  rules: 'rule',
  elements: 'element',
};

/**
 * Whether `nft monitor [new|destroy] [tables|chains|sets|rules|elements]` prints this event
 * (for fakes of the monitor; nft itself filters before decoding). Unknown words select nothing.
 */
export function selectedByObjects(objects: readonly string[], ev: MonitorEvent): boolean {
  for (const word of objects) {
    if (word === 'new' && !NEW_OPS.has(ev.op)) return false;
    else if (word === 'destroy' && ev.op !== 'delete') return false;
    else if (word !== 'new' && word !== 'destroy' && OBJECT_KINDS[word] !== ev.kind) return false;
  }
  return true;
}

/** nft's line when the kernel dropped events for it: `# ERROR: We lost some netlink events!` */
export const LOST_EVENTS = 'We lost some netlink events';

/** What a line that can matter to the daemon contains: our tables, or a masquerade (flannel's). */
export const CONCERN_NEEDLES: readonly string[] = [`"${TABLE_NAME}"`, 'asquerade', 'MASQUERADE'];

/** Lines that can matter to the daemon: our tables, or a masquerade rule (flannel's). */
export function mayConcernUs(line: string): boolean {
  return CONCERN_NEEDLES.some((n) => line.includes(n));
}

/** The tables ip-masq owns: `ip ip-masq` and `ip6 ip-masq`. */
export function touchesOwnTables(ev: MonitorEvent, tableName = TABLE_NAME): boolean {
  return ev.table === tableName && FAMILIES.some((f) => f === ev.family);
}

export interface NftMonitorOptions {
  /** argv that runs nft (NftClient.argv); `-j monitor` and `objects` are appended. */
  argv: readonly string[];
  /**
   * nft's own event filter, e.g. ['chains'] or ['new', 'rules'] (default: every event). nft
   * drops the other object types before decoding them, which is what makes a filtered monitor
   * cheap while a co-tenant rewrites thousands of rules (docs/ARCHITECTURE.md, "The monitor").
   */
  objects?: readonly string[];
  onEvent: (ev: MonitorEvent) => void;
  /** The child started (first time or after a restart). */
  onStart?: (restarts: number) => void;
  /** The child exited or could not start; it is restarted after `retryInMs`. */
  onExit?: (reason: string, retryInMs: number) => void;
  /**
   * Cheap test on the raw line before it is parsed: a node with kube-proxy in nftables mode
   * streams set-element events all day, and none of them concern us.
   */
  prefilter?: (line: string) => boolean;
  /**
   * Lines containing none of these strings are dropped before they are decoded (line-sieve.ts):
   * the cheap form of `prefilter` for a busy stream.
   */
  mustContainAny?: readonly string[];
  /**
   * The kernel dropped events (the socket overflowed, ENOBUFS: a co-tenant's burst of thousands
   * of rule events while nft was not scheduled). Ours may have been among them: look again.
   */
  onLost?: () => void;
  /** Called with the size of every stdout chunk, before the sieve (scoped-monitor.ts's flood test). */
  onVolume?: (bytes: number) => void;
  backoff?: Backoff;
  /** Child output that ran for at least this long counts as healthy (backoff reset). */
  healthyAfterMs?: number;
}

export class NftMonitor {
  private child: ChildProcess | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private restarts = 0;
  private readonly backoff: Backoff;

  constructor(private readonly options: NftMonitorOptions) {
    this.backoff = options.backoff ?? new Backoff({ initialMs: 250, maxMs: 30_000 });
  }

  /** True while a monitor child is running. */
  get running(): boolean {
    return this.child !== null;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const [cmd, ...prefix] = this.options.argv as [string, ...string[]];
    const startedAt = Date.now();
    let stderr = '';
    const args = [...prefix, '-j', 'monitor', ...(this.options.objects ?? [])];
    // Its own process group (proc/run-bounded.ts): stop() kills a wrapper and its nft together.
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    let spawnError: Error | null = null;
    let gone = false;
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 2000) stderr += d;
    });
    const { prefilter, mustContainAny, onLost, onVolume } = this.options;
    const needles = mustContainAny ? [...mustContainAny, LOST_EVENTS] : undefined;
    const lines = new LineSieve(needles, (line) => {
      if (line.includes(LOST_EVENTS)) return onLost?.();
      if (prefilter && !prefilter(line)) return;
      const ev = parseMonitorLine(line);
      if (ev) this.options.onEvent(ev);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      onVolume?.(chunk.length);
      lines.push(chunk);
    });
    child.once('spawn', () => this.options.onStart?.(this.restarts));
    // 'exit', not 'close': when argv is a wrapper that forks nft instead of exec'ing it, the
    // orphaned nft keeps the pipe open and 'close' would never come.
    const onGone = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (gone) return;
      gone = true;
      this.child = null;
      // A wrapper that forked nft leaves it orphaned in the group: no second monitor.
      killGroup(child.pid);
      // Give the pipes a moment to deliver nft's last words (its error message), then let go.
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(grace);
        lines.end();
        child.stdout!.destroy();
        child.stderr!.destroy();
        this.scheduleRestart(cmd, startedAt, spawnError, code, signal, stderr);
      };
      const grace = setTimeout(finish, 100);
      child.once('close', finish);
    };
    child.once('exit', onGone);
    // A child that could not be spawned (ENOENT, EACCES) may never emit 'exit'.
    child.on('error', (e) => {
      spawnError = e;
      if (child.pid === undefined) onGone(null, null);
    });
  }

  private scheduleRestart(
    cmd: string,
    startedAt: number,
    spawnError: Error | null,
    code: number | null,
    signal: NodeJS.Signals | null,
    stderr: string,
  ): void {
    if (this.stopped) return;
    if (Date.now() - startedAt >= (this.options.healthyAfterMs ?? 10_000)) this.backoff.reset();
    const delay = this.backoff.next();
    const why = spawnError
      ? `cannot run ${cmd}: ${spawnError.message}`
      : `nft monitor exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`;
    this.options.onExit?.(why, delay);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.restarts++;
      this.start();
    }, delay);
  }

  /** Kills the child and stops restarting it; resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (!child) return;
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    await new Promise<void>((resolve) => {
      const escalate = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 2000);
      child.once('exit', () => {
        clearTimeout(escalate);
        resolve();
      });
      killGroup(child.pid, 'SIGTERM');
    });
  }
}
