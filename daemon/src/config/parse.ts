/**
 * Config text → validated `Config`, or a `ConfigError` listing every problem of the file with
 * its line:col and field path. Pure: no I/O (see load.ts for reading the file).
 *
 * Semantics follow ip-masq-agent (a present key replaces its default; absent/empty file means
 * all defaults), but stricter where upstream silently guesses: unknown or mis-cased keys,
 * YAML 1.1 booleans (`yes`), duplicate keys, multi-document files and a non-positive
 * `resyncInterval` are errors. Validation walks the YAML AST rather than a converted JS value,
 * so every message points at the node that is wrong.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { collapseCidrs, parseCidr, type Cidr } from '../net/cidr.js';
import { DEFAULTS, MAX_RESYNC_INTERVAL_MS, defaultNonMasqueradeCidrs } from './defaults.js';
import { closestKey } from './did-you-mean.js';
import { parseGoDuration } from './duration.js';
import { findFastCidrList, type FastCidrList } from './fast-cidr-list.js';
import { mergeConfigFragments } from './merge.js';
import { parseMetricsListen, parsePortRanges } from './values.js';
import type { Config, FlannelConfig, MetricsConfig, PortRange } from './schema.js';

const TOP_KEYS = [
  'nonMasqueradeCIDRs',
  'masqLinkLocal',
  'masqLinkLocalIPv6',
  'resyncInterval',
  'cidrLimit',
  'nomasqAllReservedRanges',
  'enableIPv6',
  'randomFully',
  'flannel',
  'toPorts',
  'metrics',
] as const;
const FLANNEL_KEYS = [
  'removeMasquerade',
  'subnetEnv',
  'removeLegacy',
  'clusterCIDR',
  'nodeSubnet',
] as const;
const METRICS_KEYS = ['textfileDir', 'listen'] as const;
/** Keys whose value is a mapping: their own keys are the settings (merged key by key across files). */
const SECTION_KEYS: ReadonlySet<string> = new Set(['flannel', 'metrics']);

/** 1-based position in a file. */
export interface Loc {
  line: number;
  col: number;
}

/**
 * One file's contribution to the configuration (see merge.ts): its values, which settings it
 * sets and where, and its problems. Issues that depend on other files (an IPv6 prefix while
 * `enableIPv6` may be set elsewhere, `cidrLimit` over the merged list) are decided by the merge.
 */
export interface ConfigFragment {
  file: string;
  /** The file's values over the defaults; null when the file is not a mapping (an issue says so). */
  config: Config | null;
  /** Problems of this file alone, in file order. */
  issues: ConfigIssue[];
  /** One issue per IPv6 prefix: they count only if the merged `enableIPv6` is false. */
  ipv6Issues: ConfigIssue[];
  /** Setting path (`masqLinkLocal`, `flannel.subnetEnv`, …) → position of its key. */
  set: Map<string, Loc>;
  /** This file's `nonMasqueradeCIDRs`, null when it does not set the key. */
  cidrs: {
    texts: string[];
    cidrs: Cidr[];
    /** Where a problem with the list as a whole is reported (the list, else its key). */
    at: Loc;
    /** Line of each entry (computed on demand: a 100,000-entry list need not pay for it). */
    lineOf(index: number): number;
  } | null;
  /** Position of the `cidrLimit` value (or key), null when not set. */
  cidrLimitAt: Loc | null;
}

/** The configuration used when the file is absent, empty or `{}`. */
export function defaultConfig(): Config {
  const nonMasqueradeCIDRs = defaultNonMasqueradeCidrs(DEFAULTS.nomasqAllReservedRanges);
  return {
    nonMasqueradeCIDRs,
    collapsed: collapseCidrs(nonMasqueradeCIDRs.map(mustParseCidr)),
    masqLinkLocal: DEFAULTS.masqLinkLocal,
    masqLinkLocalIPv6: DEFAULTS.masqLinkLocalIPv6,
    resyncInterval: DEFAULTS.resyncInterval,
    resyncIntervalMs: DEFAULTS.resyncIntervalMs,
    cidrLimit: DEFAULTS.cidrLimit,
    nomasqAllReservedRanges: DEFAULTS.nomasqAllReservedRanges,
    enableIPv6: DEFAULTS.enableIPv6,
    randomFully: DEFAULTS.randomFully,
    flannel: { ...DEFAULTS.flannel, clusterCIDR: [], nodeSubnet: [] },
    toPorts: [],
    metrics: { textfileDir: null, listen: null },
  };
}

/** A built-in CIDR (the default lists); throws on a programming error only. */
export function mustParseCidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`built-in CIDR ${text} is invalid: ${parsed.reason}`);
  return parsed.cidr;
}

/**
 * Parse and validate config text. `file` is only used to label issues.
 * @throws ConfigError (code CONFIG_INVALID) with every issue of the file.
 */
export function parseConfigText(text: string, file: string): Config {
  return parseConfigTextWith(text, file, { fastPath: true });
}

/**
 * `parseConfigText` with the big-list fast path switchable, so tests can check that both
 * paths agree. Not for production callers.
 */
export function parseConfigTextWith(
  text: string,
  file: string,
  options: { fastPath: boolean },
): Config {
  return mergeConfigFragments([parseConfigFragmentWith(text, file, options)]).config;
}

/**
 * One file of a set (config.yaml and its drop-ins) for `mergeConfigFragments`. Never throws:
 * the problems are in the fragment.
 */
export function parseConfigFragment(text: string, file: string): ConfigFragment {
  return parseConfigFragmentWith(text, file, { fastPath: true });
}

function parseConfigFragmentWith(
  text: string,
  file: string,
  options: { fastPath: boolean },
): ConfigFragment {
  if (options.fastPath) {
    const fast = findFastCidrList(text);
    if (fast !== null) {
      const attempt = validateText(fast.text, file, fast, text);
      // Positions on the fast path are mapped back to the original text, so its issues are
      // final, unless the marker turned out not to be the top-level list or the rest has a
      // syntax error (whose wording could depend on the splice): then start over.
      if (attempt.usedFastList && !attempt.syntaxBroken) return attempt.fragment;
    }
  }
  return validateText(text, file, null, text).fragment;
}

interface ValidationResult {
  fragment: ConfigFragment;
  usedFastList: boolean;
  syntaxBroken: boolean;
}

/** Collects issues located at nodes or offsets of the parsed text (mapped to the original). */
class Issues {
  readonly list: ConfigIssue[] = [];
  constructor(
    private readonly file: string,
    /** 1-based line/col of an offset in the original text. */
    private readonly linePos: (offset: number) => { line: number; col: number },
    /** Offset in the parsed text → offset in the original text. */
    private readonly mapOffset: (offset: number) => number,
  ) {}

  /** In file order (Array.prototype.sort is stable), as an operator reads them. */
  sorted(): ConfigIssue[] {
    return [...this.list].sort((a, b) => a.line - b.line || a.col - b.col);
  }

  /** An empty collector for the same file and offsets. */
  sibling(): Issues {
    return new Issues(this.file, this.linePos, this.mapOffset);
  }

  /** At an offset of the original text. */
  atOriginal(offset: number, path: string, message: string): void {
    const { line, col } = this.linePos(offset);
    this.list.push({ file: this.file, line, col, path, message });
  }

  /** At an offset of the parsed text. */
  atOffset(offset: number, path: string, message: string): void {
    this.atOriginal(this.mapOffset(offset), path, message);
  }

  at(
    node: YamlNode | null | undefined,
    fallbackOffset: number,
    path: string,
    message: string,
  ): void {
    this.atOffset(this.nodeOffset(node, fallbackOffset), path, message);
  }

  /** Position of a node (as `at` reports it). */
  locate(node: YamlNode | null | undefined, fallbackOffset: number): Loc {
    return this.linePos(this.mapOffset(this.nodeOffset(node, fallbackOffset)));
  }

  /** Position of an offset of the parsed text. */
  locateOffset(offset: number): Loc {
    return this.linePos(this.mapOffset(offset));
  }

  /** Offset of the parsed text → offset of the original text. */
  original(offset: number): number {
    return this.mapOffset(offset);
  }

  /** Line of an offset of the original text. */
  lineOfOriginal(offset: number): number {
    return this.linePos(offset).line;
  }

  private nodeOffset(node: YamlNode | null | undefined, fallbackOffset: number): number {
    const range = node?.range;
    // An empty value (`key:` with nothing after it) has a zero-width range at the end of the
    // line; pointing at the key reads better.
    return range && range[1] > range[0] ? range[0] : fallbackOffset;
  }
}

/** line/col lookup for a text that was not the one given to the YAML parser. */
function lineIndex(text: string): (offset: number) => { line: number; col: number } {
  let counter: LineCounter | null = null;
  return (offset) => {
    if (counter === null) {
      counter = new LineCounter();
      counter.addNewLine(0);
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1))
        counter.addNewLine(i + 1);
    }
    return counter.linePos(offset);
  };
}

/** A key's value, with where to point when it is wrong. */
interface Field {
  /** The value node (aliases resolved), null for `key:` with no value. */
  node: YamlNode | null;
  /** The node as written (the alias itself, if any): its position is what the operator sees. */
  at: YamlNode | null;
  /** Offset of the key, for empty values. */
  keyOffset: number;
  path: string;
}

function validateText(
  text: string,
  file: string,
  fast: FastCidrList | null,
  original: string,
): ValidationResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const issues =
    fast === null
      ? new Issues(
          file,
          (offset) => lineCounter.linePos(offset),
          (offset) => offset,
        )
      : new Issues(file, lineIndex(original), fast.mapOffset);

  let syntaxBroken = false;
  for (const e of doc.errors) {
    // Duplicate keys are reported by the walk below, with the key's path.
    if (e.code === 'DUPLICATE_KEY') continue;
    syntaxBroken = true;
    if (e.code === 'MULTIPLE_DOCS') {
      issues.atOffset(
        e.pos[0],
        '',
        'the file holds more than one YAML document ("---"); keep a single document',
      );
    } else {
      issues.atOffset(e.pos[0], '', `invalid YAML: ${e.message}`);
    }
  }
  const fragment = (config: Config | null, walker: Walker | null): ConfigFragment => ({
    file,
    config,
    issues: issues.sorted(),
    ipv6Issues: walker?.ipv6Issues.sorted() ?? [],
    set: walker?.set ?? new Map(),
    cidrs: walker?.cidrs ?? null,
    cidrLimitAt: walker?.cidrLimitAt ?? null,
  });
  // The AST of a file with syntax errors is a guess: report only the syntax errors.
  if (syntaxBroken) return { fragment: fragment(null, null), usedFastList: false, syntaxBroken };
  for (const w of doc.warnings) issues.atOffset(w.pos[0], '', `YAML: ${w.message}`);

  const walker = new Walker(text, doc, issues, fast);
  const config = walker.run();
  return { fragment: fragment(config, walker), usedFastList: walker.usedFastList, syntaxBroken };
}

const YAML11_TRUE = new Set(['yes', 'y', 'on']);
const YAML11_FALSE = new Set(['no', 'n', 'off']);

class Walker {
  usedFastList = false;
  /** Settings this file sets (see ConfigFragment.set). */
  readonly set = new Map<string, Loc>();
  readonly ipv6Issues: Issues;
  cidrs: ConfigFragment['cidrs'] = null;
  cidrLimitAt: Loc | null = null;

  constructor(
    private readonly text: string,
    private readonly doc: Document.Parsed,
    private readonly issues: Issues,
    private readonly fast: FastCidrList | null,
  ) {
    this.ipv6Issues = issues.sibling();
  }

  run(): Config | null {
    const contents = this.doc.contents;
    const config = defaultConfig();
    // Empty, whitespace-only and comment-only files, and a bare `null`/`~`: all defaults,
    // as upstream (its YAML → JSON null unmarshals to nothing).
    if (contents === null || (isScalar(contents) && contents.value === null)) return config;
    if (!isMap(contents)) {
      this.issues.at(
        contents,
        0,
        '',
        `expected a mapping of settings (e.g. "masqLinkLocal: false"), got ${this.describe(contents)}`,
      );
      return null;
    }
    const fields = this.fieldsOf(contents.items, TOP_KEYS, '', FLANNEL_KEYS, 'flannel');
    for (const [key, field] of fields)
      if (!SECTION_KEYS.has(key)) this.set.set(key, this.issues.locateOffset(field.keyOffset));

    config.masqLinkLocal = this.bool(fields.get('masqLinkLocal'), config.masqLinkLocal);
    config.masqLinkLocalIPv6 = this.bool(fields.get('masqLinkLocalIPv6'), config.masqLinkLocalIPv6);
    config.nomasqAllReservedRanges = this.bool(
      fields.get('nomasqAllReservedRanges'),
      config.nomasqAllReservedRanges,
    );
    config.enableIPv6 = this.bool(fields.get('enableIPv6'), config.enableIPv6);
    config.randomFully = this.bool(fields.get('randomFully'), config.randomFully);
    this.resyncInterval(fields.get('resyncInterval'), config);
    config.cidrLimit = this.cidrLimit(fields.get('cidrLimit'));

    const limitField = fields.get('cidrLimit');
    if (limitField !== undefined)
      this.cidrLimitAt = this.issues.locate(limitField.at, limitField.keyOffset);

    const cidrsField = fields.get('nonMasqueradeCIDRs');
    if (cidrsField === undefined) {
      config.nonMasqueradeCIDRs = defaultNonMasqueradeCidrs(config.nomasqAllReservedRanges);
      config.collapsed = collapseCidrs(config.nonMasqueradeCIDRs.map(mustParseCidr));
    } else {
      const offsets: number[] = [];
      const entries = this.cidrList(cidrsField, false, offsets);
      config.nonMasqueradeCIDRs = entries.texts;
      config.collapsed = collapseCidrs(entries.cidrs);
      const keyLine = this.issues.locateOffset(cidrsField.keyOffset).line;
      this.cidrs = {
        texts: entries.texts,
        cidrs: entries.cidrs,
        at: this.issues.locate(cidrsField.at, cidrsField.keyOffset),
        lineOf: (i) => {
          const offset = offsets[i];
          return offset === undefined ? keyLine : this.issues.lineOfOriginal(offset);
        },
      };
    }
    // `cidrLimit` and IPv6 prefixes without `enableIPv6` are checked by the merge (merge.ts):
    // with drop-ins they depend on the other files.
    config.flannel = this.flannel(fields.get('flannel'));
    config.toPorts = this.toPorts(fields.get('toPorts'));
    config.metrics = this.metrics(fields.get('metrics'));
    return config;
  }

  private toPorts(field: Field | undefined): PortRange[] {
    if (field === undefined) return [];
    const { node } = field;
    // `toPorts:` (null) and `toPorts: ""` mean off, like upstream's default empty flag.
    if (isScalar(node) && (node.value === null || node.value === '')) return [];
    if (!isScalar(node) || typeof node.value !== 'string') {
      const n = isScalar(node) && typeof node.value === 'number' ? node.value : null;
      const hint = n !== null ? `; quote it: toPorts: "${String(n)}"` : '';
      this.issues.at(
        field.at,
        field.keyOffset,
        field.path,
        `expected a string of port ranges such as "1024-29999,32768-65535", got ${this.describe(node)}${hint}`,
      );
      return [];
    }
    const parsed = parsePortRanges(node.value);
    if (!parsed.ok) {
      this.issues.at(field.at, field.keyOffset, field.path, parsed.reason);
      return [];
    }
    return parsed.ranges;
  }

  private metrics(field: Field | undefined): MetricsConfig {
    const metrics: MetricsConfig = { textfileDir: null, listen: null };
    if (field === undefined) return metrics;
    const { node } = field;
    if (isScalar(node) && node.value === null) return metrics;
    if (!isMap(node)) {
      this.issues.at(
        field.at,
        field.keyOffset,
        field.path,
        `expected a mapping (e.g. "textfileDir: /var/lib/prometheus/node-exporter" on the next line, indented), got ${this.describe(node)}`,
      );
      return metrics;
    }
    const fields = this.fieldsOf(node.items, METRICS_KEYS, 'metrics', [], 'metrics');
    for (const [key, f] of fields)
      this.set.set(`metrics.${key}`, this.issues.locateOffset(f.keyOffset));
    const dir = fields.get('textfileDir');
    if (dir !== undefined) {
      const v = dir.node;
      if (isScalar(v) && v.value === null) {
        // `textfileDir:` with no value: off, the same as leaving it out.
      } else if (
        isScalar(v) &&
        typeof v.value === 'string' &&
        v.value.startsWith('/') &&
        !v.value.includes('\0')
      ) {
        metrics.textfileDir = v.value.length > 1 ? v.value.replace(/\/+$/, '') : v.value;
      } else {
        this.issues.at(
          dir.at,
          dir.keyOffset,
          dir.path,
          `expected an absolute directory such as "/var/lib/prometheus/node-exporter", got ${this.describe(v)}`,
        );
      }
    }
    const listen = fields.get('listen');
    if (listen !== undefined) {
      const v = listen.node;
      if (isScalar(v) && v.value === null) {
        // `listen:` with no value: no socket.
      } else if (isScalar(v) && (typeof v.value === 'string' || typeof v.value === 'number')) {
        const parsed = parseMetricsListen(String(v.value));
        if (parsed.ok) metrics.listen = parsed.listen;
        else this.issues.at(listen.at, listen.keyOffset, listen.path, parsed.reason);
      } else {
        this.issues.at(
          listen.at,
          listen.keyOffset,
          listen.path,
          `expected "ADDRESS:PORT" such as "127.0.0.1:9817", got ${this.describe(v)}`,
        );
      }
    }
    return metrics;
  }

  /** Known keys of a mapping, with unknown/mis-cased/duplicate keys reported. */
  private fieldsOf(
    pairs: readonly Pair<unknown, unknown>[],
    known: readonly string[],
    prefix: string,
    nestedKeys: readonly string[],
    nestedUnder: string,
  ): Map<string, Field> {
    const fields = new Map<string, Field>();
    for (const pair of pairs) {
      const keyNode = pair.key as YamlNode | null;
      const keyOffset = keyNode?.range?.[0] ?? 0;
      const valueAt = (pair.value as YamlNode | null) ?? null;
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.issues.at(
          keyNode,
          keyOffset,
          prefix,
          `keys must be plain names, got ${this.describe(keyNode)}`,
        );
        continue;
      }
      const key = keyNode.value;
      const path = prefix ? `${prefix}.${key}` : key;
      if (!known.includes(key)) {
        this.issues.atOffset(
          keyOffset,
          prefix,
          this.unknownKeyMessage(key, known, prefix, nestedKeys, nestedUnder),
        );
        continue;
      }
      if (fields.has(key)) {
        this.issues.atOffset(
          keyOffset,
          path,
          `duplicate key "${key}"; each key may appear only once`,
        );
        continue;
      }
      const node = this.deref(valueAt, path);
      // A dangling alias is already reported; checking its (missing) value would repeat it.
      if (isAlias(valueAt) && node === null) continue;
      fields.set(key, { node, at: valueAt, keyOffset, path });
    }
    return fields;
  }

  private unknownKeyMessage(
    key: string,
    known: readonly string[],
    prefix: string,
    nestedKeys: readonly string[],
    nestedUnder: string,
  ): string {
    const quoted = JSON.stringify(key);
    const suggestion = closestKey(key, known);
    if (suggestion !== null) {
      const caseOnly = suggestion.toLowerCase() === key.toLowerCase();
      return `unknown key ${quoted}; did you mean ${suggestion}?${caseOnly ? ' (keys are case-sensitive)' : ''}`;
    }
    const nested = closestKey(key, nestedKeys);
    if (nested !== null) {
      return `unknown key ${quoted}; did you mean ${nestedUnder}.${nested}? (it belongs under "${nestedUnder}:")`;
    }
    const where = prefix ? `under "${prefix}:"` : 'at the top level';
    return `unknown key ${quoted}; valid keys ${where}: ${known.join(', ')}`;
  }

  /** Follow `*alias` to its anchored node; report aliases without an anchor. */
  private deref(node: YamlNode | null, path: string): YamlNode | null {
    if (!isAlias(node)) return node;
    const target = node.resolve(this.doc);
    if (target === undefined) {
      this.issues.at(node, 0, path, `alias *${node.source} refers to no anchor defined before it`);
      return null;
    }
    return target;
  }

  /** "string \"yes\"", "number 60", "a list", … */
  private describe(node: YamlNode | null | undefined): string {
    if (node === null || node === undefined) return 'nothing (an empty value)';
    if (isScalar(node)) {
      const v = node.value;
      if (v === null)
        return node.range && node.range[1] > node.range[0] ? 'null' : 'nothing (an empty value)';
      if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
      const source = node.range ? this.text.slice(node.range[0], node.range[1]) : String(v);
      if (typeof v === 'number' || typeof v === 'bigint') return `number ${source}`;
      if (typeof v === 'boolean') return `boolean ${source}`;
      // Other tags the core schema knows (e.g. !!binary → Uint8Array): name the tag.
      const tag = node.tag?.replace('tag:yaml.org,2002:', '!!') ?? typeof v;
      return `a ${tag} value`;
    }
    if (isSeq(node)) return 'a list';
    if (isMap(node)) return 'a mapping';
    return 'an unsupported value';
  }

  private bool(field: Field | undefined, fallback: boolean): boolean {
    if (field === undefined) return fallback;
    const { node } = field;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    let hint = '';
    if (isScalar(node) && typeof node.value === 'string') {
      const lower = node.value.toLowerCase();
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
      if (quoted && (lower === 'true' || lower === 'false'))
        hint = `; write ${lower} without quotes`;
      else if (YAML11_TRUE.has(lower)) hint = '; write true (YAML 1.2 reads yes/on as a string)';
      else if (YAML11_FALSE.has(lower)) hint = '; write false (YAML 1.2 reads no/off as a string)';
    } else if (isScalar(node) && (node.value === 0 || node.value === 1)) {
      hint = `; write ${node.value === 1 ? 'true' : 'false'}`;
    }
    this.issues.at(
      field.at,
      field.keyOffset,
      field.path,
      `expected boolean, got ${this.describe(node)}${hint}`,
    );
    return fallback;
  }

  private resyncInterval(field: Field | undefined, config: Config): void {
    if (field === undefined) return;
    const { node } = field;
    const report = (message: string): void =>
      this.issues.at(field.at, field.keyOffset, field.path, message);
    if (!isScalar(node) || typeof node.value !== 'string') {
      const n = isScalar(node) && typeof node.value === 'number' ? node.value : null;
      const hint = n !== null && n > 0 ? `; add a unit, e.g. "${n}s"` : '';
      report(
        `expected a Go duration string such as "60s" or "1m30s", got ${this.describe(node)}${hint}`,
      );
      return;
    }
    const text = node.value;
    const ms = parseGoDuration(text);
    if (ms === null) {
      report(
        `${JSON.stringify(text)} is not a Go duration (a number with a unit ns, us, ms, s, m or h, e.g. "60s", "1m30s", "1.5h")`,
      );
    } else if (ms <= 0) {
      report(
        `${JSON.stringify(text)} must be greater than zero (it is how often the rules are re-checked)`,
      );
    } else if (ms > MAX_RESYNC_INTERVAL_MS) {
      report(
        `${JSON.stringify(text)} is longer than the maximum "596h31m23.647s" (Node timers cannot wait longer)`,
      );
    } else {
      config.resyncInterval = text;
      config.resyncIntervalMs = ms;
    }
  }

  private cidrLimit(field: Field | undefined): number | null {
    if (field === undefined) return null;
    const { node } = field;
    if (
      isScalar(node) &&
      typeof node.value === 'number' &&
      Number.isSafeInteger(node.value) &&
      node.value >= 0
    ) {
      return node.value;
    }
    this.issues.at(
      field.at,
      field.keyOffset,
      field.path,
      `expected a non-negative whole number, got ${this.describe(node)}`,
    );
    return null;
  }

  /**
   * A list of CIDR strings. `allowSingle` accepts one string in place of a list (flannel's
   * fields). Null means an empty list (upstream: JSON null sets the slice to nil).
   */
  /**
   * `offsets` (optional) receives each entry's offset in the original text, for the
   * per-entry provenance of `check --json`.
   */
  private cidrList(
    field: Field,
    allowSingle: boolean,
    offsets?: number[],
  ): { texts: string[]; cidrs: Cidr[] } {
    const texts: string[] = [];
    const cidrs: Cidr[] = [];
    const { node } = field;
    /** `at` is a node of the parsed text, or an offset of the original text (fast path). */
    const addOne = (text: string, at: YamlNode | null | number, path: string): void => {
      const report = (issues: Issues, message: string): void => {
        if (typeof at === 'number') issues.atOriginal(at, path, message);
        else issues.at(at, field.keyOffset, path, message);
      };
      const parsed = parseCidr(text);
      if (!parsed.ok) report(this.issues, parsed.reason);
      else {
        // Valid only if the merged config enables IPv6 (maybe in another file): merge.ts decides.
        if (parsed.cidr.family === 'ipv6') {
          report(
            this.ipv6Issues,
            `${JSON.stringify(text)} is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it`,
          );
        }
        cidrs.push(parsed.cidr);
      }
    };

    if (isScalar(node) && node.value === null) return { texts, cidrs };
    if (allowSingle && isScalar(node) && typeof node.value === 'string') {
      texts.push(node.value);
      addOne(node.value, field.at, field.path);
      return { texts, cidrs };
    }
    if (!isSeq(node)) {
      const example =
        isScalar(node) && typeof node.value === 'string' ? `; write [${node.value}]` : '';
      this.issues.at(
        field.at,
        field.keyOffset,
        field.path,
        `expected a list of CIDRs, got ${this.describe(node)}${example}`,
      );
      return { texts, cidrs };
    }
    if (
      this.fast !== null &&
      field.path === 'nonMasqueradeCIDRs' &&
      node.items.length === 0 &&
      node.range?.[0] === this.fast.markerOffset
    ) {
      // The fast path's list (see fast-cidr-list.ts), with its items' offsets in the original.
      this.usedFastList = true;
      const { items, itemOffsets } = this.fast;
      for (let i = 0; i < items.length; i++) {
        const text = items[i] as string;
        texts.push(text);
        addOne(text, itemOffsets[i] as number, `${field.path}[${i}]`);
      }
      if (offsets) offsets.push(...itemOffsets);
      return { texts, cidrs };
    }
    node.items.forEach((raw, i) => {
      const path = `${field.path}[${i}]`;
      const at = (raw as YamlNode | null) ?? null;
      const item = this.deref(at, path);
      const fallback = this.dashBefore(at?.range?.[0] ?? node.range?.[0] ?? field.keyOffset);
      offsets?.push(this.issues.original(at?.range?.[0] ?? fallback));
      if (isScalar(item) && typeof item.value === 'string' && item.value !== '') {
        texts.push(item.value);
        addOne(item.value, at, path);
      } else if (item === null || (isScalar(item) && (item.value === null || item.value === ''))) {
        texts.push('');
        this.issues.at(
          at,
          fallback,
          path,
          'empty entry; write a CIDR such as 10.0.0.0/8 or remove the line',
        );
      } else {
        texts.push(isScalar(item) ? String(item.value) : '');
        this.issues.at(
          at,
          fallback,
          path,
          `expected a CIDR string such as "10.0.0.0/8", got ${this.describe(item)}`,
        );
      }
    });
    return { texts, cidrs };
  }

  /**
   * An empty list item (`-` alone) has a zero-width node at the end of its line; point at its
   * dash instead, which is what the operator has to delete or fill in.
   */
  private dashBefore(offset: number): number {
    const dash = this.text.lastIndexOf('-', offset - 1);
    if (dash === -1 || this.text.slice(dash + 1, offset).trim() !== '') return offset;
    return dash;
  }

  private flannel(field: Field | undefined): FlannelConfig {
    const flannel: FlannelConfig = { ...DEFAULTS.flannel, clusterCIDR: [], nodeSubnet: [] };
    if (field === undefined) return flannel;
    const { node } = field;
    // `flannel:` with every child commented out means "all defaults", like an empty file.
    if (isScalar(node) && node.value === null) return flannel;
    if (!isMap(node)) {
      this.issues.at(
        field.at,
        field.keyOffset,
        field.path,
        `expected a mapping (e.g. "removeMasquerade: true" on the next line, indented), got ${this.describe(node)}`,
      );
      return flannel;
    }
    const fields = this.fieldsOf(node.items, FLANNEL_KEYS, 'flannel', [], 'flannel');
    for (const [key, f] of fields)
      this.set.set(`flannel.${key}`, this.issues.locateOffset(f.keyOffset));
    flannel.removeMasquerade = this.bool(fields.get('removeMasquerade'), flannel.removeMasquerade);
    flannel.removeLegacy = this.bool(fields.get('removeLegacy'), flannel.removeLegacy);
    const subnetEnv = fields.get('subnetEnv');
    if (subnetEnv !== undefined) {
      const v = subnetEnv.node;
      if (
        isScalar(v) &&
        typeof v.value === 'string' &&
        v.value.startsWith('/') &&
        !v.value.includes('\0')
      ) {
        flannel.subnetEnv = v.value;
      } else {
        this.issues.at(
          subnetEnv.at,
          subnetEnv.keyOffset,
          subnetEnv.path,
          `expected an absolute path such as "/run/flannel/subnet.env", got ${this.describe(v)}`,
        );
      }
    }
    for (const key of ['clusterCIDR', 'nodeSubnet'] as const) {
      const f = fields.get(key);
      if (f !== undefined) flannel[key] = this.cidrList(f, true).cidrs;
    }
    return flannel;
  }
}
