/**
 * ip-masq-agent's config body and flags → ip-masq settings with the same meaning. Pure.
 *
 * The body is read the way the agent reads /etc/config/ip-masq-agent (reference §1.1): a text
 * starting with `{` is strict JSON, anything else YAML 1.1 (`yes`/`on` are booleans), the
 * first document only, duplicate keys last-wins, keys matched case-insensitively, unknown keys
 * ignored. A key that is present replaces its default, as in ip-masq, so present keys are
 * carried over one to one and absent keys stay absent.
 *
 * Flags are parsed like Go's `flag` package: `-x` or `--x`, `=value` or the next argument,
 * booleans without a value mean true, parsing stops at the first non-flag or `--`.
 */
import { parseDocument } from 'yaml';
import { parseGoDuration } from '../config/duration.js';

/** What ip-masq's config.yaml will say; only keys with a value are written. */
export interface ImportedSettings {
  nonMasqueradeCIDRs?: string[];
  cidrLimit?: number;
  masqLinkLocal?: boolean;
  masqLinkLocalIPv6?: boolean;
  resyncInterval?: string;
  nomasqAllReservedRanges?: boolean;
  enableIPv6?: boolean;
  randomFully?: boolean;
  toPorts?: string;
}

export interface Imported {
  settings: ImportedSettings;
  /** Where each written key came from, for a comment next to it. */
  origins: Partial<Record<keyof ImportedSettings, string>>;
  /** The agent's nat chain (from --masq-chain, default IP-MASQ-AGENT): to delete after the move. */
  chain: string;
  /** Not carried over, one line each (for stderr). */
  notCarried: string[];
}

/** A problem that makes the input something the agent itself would reject. */
export class ImportError extends Error {}

const BODY_KEYS = [
  'nonMasqueradeCIDRs',
  'cidrLimit',
  'masqLinkLocal',
  'masqLinkLocalIPv6',
  'resyncInterval',
] as const;
type BodyKey = (typeof BODY_KEYS)[number];

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseBodyValue(text: string, source: string): unknown {
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ImportError(
        `${source}: not valid JSON (${(e as Error).message}); the agent rejects it too: fix the ConfigMap first`,
      );
    }
  }
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: false, prettyErrors: false });
  const err = doc.errors[0];
  if (err) throw new ImportError(`${source}: not valid YAML: ${err.message.split('\n')[0] ?? ''}`);
  return doc.toJS({ maxAliasCount: 100 });
}

/** One config body → the keys it sets (agent semantics). Throws ImportError. */
export function readAgentBody(
  text: string,
  source: string,
  notCarried: string[],
): Partial<Record<BodyKey, unknown>> {
  const value = parseBodyValue(text, source);
  if (value === null || value === undefined) return {};
  if (!isObj(value))
    throw new ImportError(
      `${source}: the config must be a mapping (nonMasqueradeCIDRs: […], …), not ${Array.isArray(value) ? 'a list' : 'a scalar'}`,
    );
  const out: Partial<Record<BodyKey, unknown>> = {};
  for (const [key, v] of Object.entries(value)) {
    const field =
      BODY_KEYS.find((k) => k === key) ??
      BODY_KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
    if (field === undefined) {
      const hint =
        key.toLowerCase() === 'enableipv6'
          ? ' (the agent ignores it: IPv6 is its --enable-ipv6 flag)'
          : ' (the agent ignores unknown keys)';
      notCarried.push(`${source}: key "${key}"${hint}`);
      continue;
    }
    out[field] = v;
  }
  return out;
}

function typed(body: Partial<Record<BodyKey, unknown>>, source: string): ImportedSettings {
  const s: ImportedSettings = {};
  const wrong = (key: string, want: string, v: unknown): ImportError =>
    new ImportError(
      `${source}: ${key}: ${JSON.stringify(v)} is not ${want}; the agent rejects this config (json: cannot unmarshal), so it never applied it: fix the ConfigMap first`,
    );
  if ('nonMasqueradeCIDRs' in body) {
    const v = body.nonMasqueradeCIDRs;
    // JSON null sets the Go slice to nil: an empty list (reference §1.3).
    if (v === null) s.nonMasqueradeCIDRs = [];
    else if (Array.isArray(v) && v.every((c) => typeof c === 'string')) s.nonMasqueradeCIDRs = v;
    else throw wrong('nonMasqueradeCIDRs', 'a list of CIDR strings', v);
  }
  if ('cidrLimit' in body) {
    const v = body.cidrLimit;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw wrong('cidrLimit', 'an integer', v);
    s.cidrLimit = v;
  }
  for (const key of ['masqLinkLocal', 'masqLinkLocalIPv6'] as const) {
    if (!(key in body)) continue;
    const v = body[key];
    if (typeof v !== 'boolean') throw wrong(key, 'true or false', v);
    s[key] = v;
  }
  if ('resyncInterval' in body) {
    const v = body.resyncInterval;
    if (typeof v !== 'string' || parseGoDuration(v) === null)
      throw wrong('resyncInterval', 'a Go duration string such as "60s"', v);
    s.resyncInterval = v;
  }
  return s;
}

/** Go's strconv.ParseBool. */
function goBool(v: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return null;
}

const AGENT_BOOL_FLAGS = ['nomasq-all-reserved-ranges', 'enable-ipv6', 'random-fully'] as const;
const AGENT_VALUE_FLAGS = ['masq-chain', 'to-ports', 'resync-interval'] as const;
/** klog's flags (klog.InitFlags): logging, which ip-masq sends to the journal instead. */
const KLOG_BOOL = [
  'logtostderr',
  'alsologtostderr',
  'skip_headers',
  'skip_log_headers',
  'one_output',
  'add_dir_header',
];
const KLOG_VALUE = [
  'v',
  'vmodule',
  'log_dir',
  'log_file',
  'log_file_max_size',
  'stderrthreshold',
  'log_backtrace_at',
];

interface ParsedFlag {
  name: string;
  value: string | null;
  text: string;
}

function parseFlags(
  args: readonly string[],
  source: string,
): { flags: ParsedFlag[]; rest: string[] } {
  const flags: ParsedFlag[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    let value = eq < 0 ? null : body.slice(eq + 1);
    let text = a;
    const takesValue =
      (AGENT_VALUE_FLAGS as readonly string[]).includes(name) || KLOG_VALUE.includes(name);
    if (value === null && takesValue) {
      const next = args[i + 1];
      if (next === undefined)
        throw new ImportError(`${source}: flag ${a} needs a value; the agent would not start`);
      value = next;
      text = `${a} ${next}`;
      i++;
    }
    flags.push({ name, value, text });
  }
  return { flags, rest: args.slice(i) };
}

/** The agent's command line → settings, the chain name, and what is not carried over. */
function fromFlags(args: readonly string[], source: string, imported: Imported): void {
  const { settings, origins, notCarried } = imported;
  const { flags, rest } = parseFlags(args, source);
  for (const f of flags) {
    if ((AGENT_BOOL_FLAGS as readonly string[]).includes(f.name)) {
      const b = f.value === null ? true : goBool(f.value);
      if (b === null)
        throw new ImportError(`${source}: ${f.text}: not a boolean; the agent would not start`);
      const key = (
        {
          'nomasq-all-reserved-ranges': 'nomasqAllReservedRanges',
          'enable-ipv6': 'enableIPv6',
          'random-fully': 'randomFully',
        } as const
      )[f.name as (typeof AGENT_BOOL_FLAGS)[number]];
      settings[key] = b;
      origins[key] = `${source}: ${f.text}`;
    } else if (f.name === 'to-ports') {
      // Empty means off, as the agent's default.
      if (f.value !== '') {
        settings.toPorts = f.value as string;
        origins.toPorts = `${source}: ${f.text}`;
      }
    } else if (f.name === 'masq-chain') {
      imported.chain = f.value as string;
      notCarried.push(
        `${source}: ${f.text} (no such setting: after the move, delete the agent's chain ${imported.chain} and its POSTROUTING jump; "ip-masq doctor" prints the commands)`,
      );
    } else if (f.name === 'resync-interval') {
      // Azure's ip-masq-agent-v2: whole seconds.
      const n = Number(f.value);
      if (!Number.isInteger(n) || n <= 0) {
        notCarried.push(
          `${source}: ${f.text} (ip-masq needs resyncInterval > 0; it reacts to edits at once anyway)`,
        );
        continue;
      }
      settings.resyncInterval = `${n}s`;
      origins.resyncInterval = `${source}: ${f.text}`;
    } else if (KLOG_BOOL.includes(f.name) || KLOG_VALUE.includes(f.name)) {
      notCarried.push(
        `${source}: ${f.text} (klog logging; ip-masq logs to the journal: use ip-masq run --log-level)`,
      );
    } else {
      notCarried.push(
        `${source}: ${f.text} (not an ip-masq-agent flag; the agent would not start with it)`,
      );
    }
  }
  for (const r of rest)
    notCarried.push(`${source}: argument "${r}" (after the flags; the agent ignores it)`);
}

/** The default chain name (`--masq-chain`). */
export const AGENT_DEFAULT_CHAIN = 'IP-MASQ-AGENT';

/**
 * Config bodies and command lines → ip-masq settings. Several bodies (Azure's v2 projects
 * several ConfigMaps) are merged the way v2 does: CIDR lists unioned, masqLinkLocal* OR'd;
 * v2 ignores resyncInterval and cidrLimit in its files, so they are not carried over then.
 * Throws ImportError when the agent itself would reject the input.
 */
export function importAgent(
  bodies: ReadonlyArray<{ text: string; source: string }>,
  commandLines: ReadonlyArray<{ args: readonly string[]; source: string }>,
): Imported {
  const imported: Imported = {
    settings: {},
    origins: {},
    chain: AGENT_DEFAULT_CHAIN,
    notCarried: [],
  };
  const { settings, origins, notCarried } = imported;
  const parsed = bodies.map((b) => ({
    source: b.source,
    values: typed(readAgentBody(b.text, b.source, notCarried), b.source),
  }));
  if (parsed.length === 1) {
    const only = parsed[0]!;
    Object.assign(settings, only.values);
    for (const k of Object.keys(only.values) as Array<keyof ImportedSettings>)
      origins[k] = only.source;
  } else if (parsed.length > 1) {
    const withList = parsed.filter((p) => p.values.nonMasqueradeCIDRs !== undefined);
    const union = [...new Set(withList.flatMap((p) => p.values.nonMasqueradeCIDRs ?? []))];
    // v2: any file at all means its lists decide (the defaults only when no file exists).
    settings.nonMasqueradeCIDRs = union;
    origins.nonMasqueradeCIDRs = `union of ${parsed.map((p) => p.source).join(', ')} (ip-masq-agent-v2 merge)`;
    for (const key of ['masqLinkLocal', 'masqLinkLocalIPv6'] as const) {
      const set = parsed.filter((p) => p.values[key] !== undefined);
      if (set.length === 0) continue;
      settings[key] = set.some((p) => p.values[key] === true);
      origins[key] = `OR of ${set.map((p) => p.source).join(', ')} (ip-masq-agent-v2 merge)`;
    }
    for (const p of parsed)
      for (const key of ['resyncInterval', 'cidrLimit'] as const)
        if (p.values[key] !== undefined)
          notCarried.push(`${p.source}: ${key} (ip-masq-agent-v2 ignores it in its files)`);
  }
  if (commandLines.length > 1)
    notCarried.push(
      `${commandLines.map((c) => c.source).join(', ')}: several agent containers; their flags are combined, later ones winning`,
    );
  for (const c of commandLines) fromFlags(c.args, c.source, imported);
  return imported;
}
