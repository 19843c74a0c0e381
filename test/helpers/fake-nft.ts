/**
 * An in-memory nftables behind the NftBackend seam, for unit tests that need no root: tables,
 * chains, interval sets and rules with kernel-style handles. A batch is applied to a copy and
 * committed only when every command succeeded, so a failing batch changes nothing (as the
 * kernel's transaction, and as kubernetes-sigs/knftables' Fake). Listings come back the way
 * nft 1.0.6 prints them (counters filled in, a single nat flag as a string, a full-length
 * prefix as a bare address, canonical IPv6 text), so read-back normalization is exercised too.
 *
 * What only the kernel can show (packets, real nft parsing quirks) stays in test/integration.
 */
import { NftError } from '../../daemon/src/errors.js';
import { formatIp, parseIp } from '../../daemon/src/net/cidr.js';
import type {
  NftBackend,
  NftEventHandlers,
  NftEventStream,
  NftProbe,
} from '../../daemon/src/nft/backend.js';
import { parseMonitorLine, selectedByObjects } from '../../daemon/src/nft/monitor.js';
import type { NftListSession } from '../../daemon/src/nft/session.js';
import type {
  NftBatch,
  NftChain,
  NftCommand,
  NftExpr,
  NftListing,
  NftObject,
  NftRule,
  NftSet,
  NftSetElement,
  NftTable,
} from '../../daemon/src/nft/types.js';

interface Table {
  info: NftTable;
  chains: Map<string, NftChain>;
  sets: Map<string, NftSet & { ranges: [bigint, bigint][] }>;
  /** Rules per chain, in chain order. */
  rules: Map<string, NftRule[]>;
  nextHandle: number;
}

type State = Map<string, Table>;
type Committed = { op: 'add' | 'delete'; kind: string; object: Record<string, unknown> };

const key = (family: string, name: string): string => `${family} ${name}`;

/** nft's error for a missing table, chain, set or rule handle (isNotFound is true for it). */
function enoent(what: string, input?: string): NftError {
  return kernelError(`Error: Could not process rule: No such file or directory\n${what}`, input);
}

function kernelError(stderr: string, input?: string): NftError {
  const first = stderr.split('\n')[0] ?? '';
  return new NftError('NFT_FAILED', `nft failed with exit code 1: -j -f -: ${first}`, {
    argv: ['nft', '-j', '-f', '-'],
    exitStatus: 1,
    stderr,
    ...(input === undefined ? {} : { input }),
  });
}

/** An element as a closed address range, for the kernel's overlap check. */
function elementRange(e: NftSetElement): [bigint, bigint] {
  const parse = (t: string) => {
    const ip = parseIp(t);
    if (!ip) throw kernelError(`Error: Could not resolve hostname: ${t}`);
    return ip;
  };
  if (typeof e === 'string') {
    const ip = parse(e);
    return [ip.addr, ip.addr];
  }
  if ('range' in e) return [parse(e.range[0]).addr, parse(e.range[1]).addr];
  const ip = parse(e.prefix.addr);
  const span = (1n << BigInt((ip.family === 'ipv4' ? 32 : 128) - e.prefix.len)) - 1n;
  return [ip.addr, ip.addr + span];
}

/** How nft lists an element back: canonical text, a full-length prefix as a bare address. */
function listedElement(e: NftSetElement): NftSetElement {
  const canon = (t: string): string => {
    const ip = parseIp(t);
    return ip ? formatIp(ip.family, ip.addr) : t;
  };
  if (typeof e === 'string') return canon(e);
  if ('range' in e) return { range: [canon(e.range[0]), canon(e.range[1])] };
  const ip = parseIp(e.prefix.addr);
  if (ip && e.prefix.len === (ip.family === 'ipv4' ? 32 : 128)) return canon(e.prefix.addr);
  return { prefix: { addr: canon(e.prefix.addr), len: e.prefix.len } };
}

const NAT_STATEMENTS = new Set(['masquerade', 'snat', 'dnat', 'redirect']);

/** How nft lists a rule's expressions back (see the module comment). */
function listedValue(v: unknown, parent?: string): unknown {
  if (Array.isArray(v)) return v.map((x) => listedValue(x));
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if ('prefix' in o && Object.keys(o).length === 1)
    return listedElement(o as { prefix: { addr: string; len: number } });
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    if (k === 'counter' && x === null) out[k] = { packets: 0, bytes: 0 };
    // A nat statement lists a single flag as a string (fib keeps its array).
    else if (
      k === 'flags' &&
      parent &&
      NAT_STATEMENTS.has(parent) &&
      Array.isArray(x) &&
      x.length === 1
    )
      out[k] = x[0];
    else out[k] = listedValue(x, k);
  }
  return out;
}

export class FakeNft implements NftBackend {
  private state: State = new Map();
  private streams = new Set<FakeStream>();
  /** Every call, in order: ['list', …what], ['apply'], ['check'], ['probe']. */
  readonly calls: string[][] = [];
  /** Every batch given to applyBatch (check mode included), committed or not. */
  readonly batches: NftBatch[] = [];
  /** Throw from here to make the next applyBatch fail as nft would (nothing is applied). */
  beforeApply: ((batch: NftBatch, check: boolean) => void) | null = null;
  /**
   * Runs after a batch was committed: a test edits the state here to act as a kernel that
   * ignored part of the input, or a concurrent writer.
   */
  afterApply: ((fake: FakeNft) => void) | null = null;
  /** What probe() answers; set to an NftError to make it fail. */
  probeResult: NftProbe | NftError = { version: '1.0.6' };

  /** Starts from a captured `nft -j list ruleset` (e.g. a flannel fixture), handles kept. */
  constructor(ruleset: readonly NftObject[] | readonly Record<string, unknown>[] = []) {
    for (const o of structuredClone(ruleset) as NftObject[]) {
      if ('table' in o) this.state.set(key(o.table.family, o.table.name), newTable(o.table));
      else if ('chain' in o)
        this.table(o.chain.family, o.chain.table).chains.set(o.chain.name, o.chain);
      else if ('set' in o)
        this.table(o.set.family, o.set.table).sets.set(o.set.name, {
          ...o.set,
          ranges: (o.set.elem ?? []).map(elementRange),
        });
      else if ('rule' in o) this.chainRules(this.state, o.rule).push(o.rule);
    }
    for (const t of this.state.values()) t.nextHandle = maxHandle(t) + 1;
  }

  describe(args: readonly string[] = []): string {
    return ['fake-nft', ...args].join(' ');
  }

  async probe(): Promise<NftProbe> {
    this.calls.push(['probe']);
    if (this.probeResult instanceof Error) throw this.probeResult;
    return this.probeResult;
  }

  async list(what: readonly string[]): Promise<NftListing | null> {
    this.calls.push(['list', ...what]);
    const [kind, family, name, chain] = what;
    const all = this.ruleset();
    const inTable = (o: NftObject): boolean => {
      const x = Object.values(o)[0] as { family?: string; table?: string };
      return x.family === family && x.table === name;
    };
    switch (kind) {
      case 'ruleset':
        return all;
      case 'tables':
        return all.filter(
          (o) => 'table' in o && (family === undefined || o.table.family === family),
        );
      case 'chains':
        return all.filter(
          (o) => 'chain' in o && (family === undefined || o.chain.family === family),
        );
      case 'table': {
        const t = all.find(
          (o) => 'table' in o && o.table.family === family && o.table.name === name,
        );
        return t ? [t, ...all.filter(inTable)] : null;
      }
      case 'chain': {
        const of = (o: NftObject): boolean =>
          inTable(o) &&
          (('chain' in o && o.chain.name === chain) || ('rule' in o && o.rule.chain === chain));
        const listed = all.filter(of);
        return listed.some((o) => 'chain' in o) ? listed : null;
      }
      default:
        throw new Error(`FakeNft: unsupported listing: ${what.join(' ')}`);
    }
  }

  async applyBatch(batch: NftBatch, options: { check?: boolean } = {}): Promise<void> {
    const check = options.check === true;
    this.calls.push([check ? 'check' : 'apply']);
    this.batches.push(structuredClone(batch));
    this.beforeApply?.(batch, check);
    const input = JSON.stringify(batch);
    const next = structuredClone(this.state);
    const events: Committed[] = [];
    for (const cmd of batch.nftables) this.execute(next, cmd, events, input);
    if (check) return;
    this.state = next;
    for (const ev of events) this.emit(ev);
    this.afterApply?.(this);
  }

  /** Everything, as `nft -j list ruleset` prints it (tables, then chains, sets, rules). */
  ruleset(): NftListing {
    const out: NftObject[] = [];
    for (const t of this.state.values()) {
      out.push({ table: { ...t.info } });
      for (const c of t.chains.values()) out.push({ chain: { ...c } });
      for (const { ranges: _ranges, ...s } of t.sets.values())
        out.push({ set: structuredClone(s) });
      for (const rules of t.rules.values())
        for (const r of rules) out.push({ rule: structuredClone(r) });
    }
    return out;
  }

  /** Handles of the rules in one chain, in order (for assertions on deletes by handle). */
  handles(family: string, table: string, chain: string): number[] {
    return (this.state.get(key(family, table))?.rules.get(chain) ?? []).map((r) => r.handle ?? -1);
  }

  openSession(): NftListSession {
    return { list: (what) => this.list(what), close: () => undefined };
  }

  monitor(handlers: NftEventHandlers): NftEventStream {
    const stream = new FakeStream(handlers, this.streams);
    return stream;
  }

  private emit(ev: Committed): void {
    const line = JSON.stringify({ [ev.op]: { [ev.kind]: ev.object } });
    for (const s of this.streams) s.deliver(line, ev);
  }

  private table(family: string, name: string, state: State = this.state): Table {
    const t = state.get(key(family, name));
    if (!t) throw enoent(`table ${family} ${name}`);
    return t;
  }

  private chainRules(state: State, r: Pick<NftRule, 'family' | 'table' | 'chain'>): NftRule[] {
    const t = this.table(r.family, r.table, state);
    if (!t.chains.has(r.chain)) throw enoent(`chain ${r.family} ${r.table} ${r.chain}`);
    let rules = t.rules.get(r.chain);
    if (!rules) t.rules.set(r.chain, (rules = []));
    return rules;
  }

  private execute(state: State, cmd: NftCommand, events: Committed[], input: string): void {
    if ('metainfo' in cmd) return;
    if ('add' in cmd) {
      const add = cmd.add;
      if ('table' in add) {
        const k = key(add.table.family, add.table.name);
        if (state.has(k)) return;
        const handle = Math.max(0, ...[...state.values()].map((t) => t.info.handle ?? 0)) + 1;
        state.set(k, newTable({ family: add.table.family, name: add.table.name, handle }));
        events.push({ op: 'add', kind: 'table', object: { ...add.table, handle } });
      } else if ('chain' in add) {
        const t = this.table(add.chain.family, add.chain.table, state);
        if (t.chains.has(add.chain.name)) return;
        const chain: NftChain = { ...add.chain, handle: t.nextHandle++ };
        // nft 1.0.6: a non-integer priority silently makes a regular chain (no hook).
        if (typeof chain.prio !== 'number') {
          delete chain.type;
          delete chain.hook;
          delete chain.prio;
          delete chain.policy;
        }
        t.chains.set(chain.name, chain);
        events.push({ op: 'add', kind: 'chain', object: { ...chain } });
      } else if ('set' in add) {
        this.addSet(state, add.set, events, input);
      } else {
        const rule = add.rule;
        const t = this.table(rule.family, rule.table, state);
        for (const ref of JSON.stringify(rule.expr).match(/"@[^"]+"/g) ?? []) {
          if (!t.sets.has(ref.slice(2, -1))) throw enoent(`set ${ref}`, input);
        }
        const listed: NftRule = {
          family: rule.family,
          table: rule.table,
          chain: rule.chain,
          handle: t.nextHandle++,
          ...(rule.comment === undefined ? {} : { comment: rule.comment }),
          expr: listedValue(rule.expr) as NftExpr[],
        };
        this.chainRules(state, rule).push(listed);
        events.push({
          op: 'add',
          kind: 'rule',
          object: structuredClone(listed) as unknown as Record<string, unknown>,
        });
      }
      return;
    }
    const del = cmd.delete;
    if ('table' in del) {
      const k = key(del.table.family, del.table.name);
      const t = state.get(k);
      if (!t) throw enoent(`table ${del.table.family} ${del.table.name}`, input);
      state.delete(k);
      events.push({ op: 'delete', kind: 'table', object: { ...t.info } });
    } else {
      const r = del.rule;
      const rules = this.chainRules(state, r);
      const i = rules.findIndex((x) => x.handle === r.handle);
      if (i < 0) throw enoent(`rule handle ${r.handle}`, input);
      const [gone] = rules.splice(i, 1);
      events.push({ op: 'delete', kind: 'rule', object: { ...r, expr: gone?.expr ?? [] } });
    }
  }

  private addSet(state: State, set: NftSet, events: Committed[], input: string): void {
    const t = this.table(set.family, set.table, state);
    let s = t.sets.get(set.name);
    if (!s) {
      const { elem: _elem, ...rest } = set;
      s = { ...rest, handle: t.nextHandle++, ranges: [] };
      t.sets.set(set.name, s);
      events.push({ op: 'add', kind: 'set', object: { ...rest, handle: s.handle } });
    }
    const want = s.type === 'ipv4_addr' ? 'ipv4' : 'ipv6';
    for (const e of set.elem ?? []) {
      const text = typeof e === 'string' ? e : 'range' in e ? e.range[0] : e.prefix.addr;
      if (parseIp(text)?.family !== want)
        throw kernelError(`Error: datatype mismatch, expected ${s.type}: ${text}`, input);
      const [lo, hi] = elementRange(e);
      if (!s.flags?.includes('interval') && lo !== hi)
        throw kernelError('Error: you must add the interval flag to this set', input);
      if (s.ranges.some(([a, b]) => lo <= b && a <= hi))
        throw kernelError('Error: conflicting intervals specified', input);
      s.ranges.push([lo, hi]);
      (s.elem ??= []).push(listedElement(e));
    }
  }
}

function newTable(info: NftTable): Table {
  return { info: { ...info }, chains: new Map(), sets: new Map(), rules: new Map(), nextHandle: 1 };
}

function maxHandle(t: Table): number {
  const handles = [
    ...[...t.chains.values()].map((c) => c.handle ?? 0),
    ...[...t.sets.values()].map((s) => s.handle ?? 0),
    ...[...t.rules.values()].flat().map((r) => r.handle ?? 0),
  ];
  return Math.max(0, ...handles);
}

/** The fake's `nft -j monitor`: the events of every committed batch, as nft prints them. */
class FakeStream implements NftEventStream {
  private started = false;
  constructor(
    private readonly handlers: NftEventHandlers,
    private readonly streams: Set<FakeStream>,
  ) {}

  get running(): boolean {
    return this.started;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.streams.add(this);
    this.handlers.onStart?.(0);
  }

  async stop(): Promise<void> {
    this.started = false;
    this.streams.delete(this);
  }

  deliver(line: string, ev: Committed): void {
    // nft's own filter (`nft -j monitor [new|destroy] [tables|chains|sets|rules]`).
    const [first, second] = this.handlers.objects ?? [];
    const op = first === 'new' ? 'add' : first === 'destroy' ? 'delete' : null;
    const kinds = op === null ? first : second;
    if (op !== null && ev.op !== op) return;
    if (kinds !== undefined && kinds !== 'ruleset' && kinds !== `${ev.kind}s`) return;
    this.handlers.onVolume?.(line.length + 1);
    const needles = this.handlers.mustContainAny;
    if (needles && !needles.some((n) => line.includes(n))) return;
    if (this.handlers.prefilter && !this.handlers.prefilter(line)) return;
    const parsed = parseMonitorLine(line);
    if (parsed) this.handlers.onEvent(parsed);
  }
}
