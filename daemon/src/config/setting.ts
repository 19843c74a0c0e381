/**
 * The shape of one setting's declaration in the registry (registry.ts), and what its reader
 * may use. Everything about a key that is not the key's own business (walking the YAML
 * mapping, unknown keys, positions, merging files, defaults, JSON) is derived from these
 * declarations by the rest of config/.
 */
import type { Node as YamlNode } from 'yaml';
import type { Cidr } from '../net/cidr.js';
import type { FastCidrList } from './fast-cidr-list.js';
import type { Issues, Loc } from './issues.js';

/** A key's value in one file, with where to point when it is wrong. */
export interface Field {
  /** The value node (aliases resolved), null for `key:` with no value. */
  node: YamlNode | null;
  /** The node as written (the alias itself, if any): its position is what the operator sees. */
  at: YamlNode | null;
  /** Offset of the key, for empty values. */
  keyOffset: number;
  /** `masqLinkLocal`, `flannel.subnetEnv`: the path shown in messages. */
  path: string;
}

/** Per-entry detail of a CIDR list, for merging (collapse, provenance) without re-parsing. */
export interface CidrListDetail {
  cidrs: Cidr[];
  /** Where a problem with the list as a whole is reported (the list, else its key). */
  at: Loc;
  /** Line of each entry (computed on demand: a 100,000-entry list need not pay for it). */
  lineOf(index: number): number;
  /** Line and column of each entry, for the short lists whose entries errors point at. */
  locOf?(index: number): Loc;
}

/** What a reader gets from the walk of one file. */
export interface ReadContext {
  /** Problems of this file alone. */
  readonly issues: Issues;
  /** One per IPv6 prefix: they count only if the merged `enableIPv6` is false (merge.ts). */
  readonly ipv6Issues: Issues;
  /** "string \"yes\"", "a list", …: how a node is named in a message. */
  describe(node: YamlNode | null | undefined): string;
  /** Follows `*alias` to its anchored node; reports (and returns null for) a dangling one. */
  deref(node: YamlNode | null, path: string): YamlNode | null;
  /** The text given to the YAML parser (spliced on the fast path). */
  readonly text: string;
  /** The fast path's lifted `nonMasqueradeCIDRs` items, when this parse uses the fast path. */
  readonly fast: FastCidrList | null;
  /** The walk consumed the fast path's items. */
  usedFastList(): void;
  /** Keeps a CIDR list's per-entry detail for the merge. */
  keepList(path: string, detail: CidrListDetail): void;
}

/**
 * Reports a problem with the whole value of `field` (at the value, or at its key when the
 * value is empty).
 */
export function reportAt(cx: ReadContext, field: Field, message: string): void {
  cx.issues.at(field.at, field.keyOffset, field.path, message);
}

/** The settings that another setting's default depends on (a Config is one). */
export interface DefaultsContext {
  readonly nomasqAllReservedRanges: boolean;
}

/**
 * How a setting set in several files (config.yaml and drop-ins) combines: `one-file` makes a
 * second file setting it an error naming both places; `concat` appends the lists in file order.
 */
export type MergeRule<T> = T extends readonly unknown[] ? 'one-file' | 'concat' : 'one-file';

/** One setting, declared once. */
export interface Setting<T> {
  /** One line: what it does, for docs/ARCHITECTURE.md's key list and code readers. */
  doc: string;
  /** The value of the key in one file; undefined when it is wrong (the reader reported why). */
  read(field: Field, cx: ReadContext): T | undefined;
  /** The value when no file sets the key (a fresh value each call: callers may keep it). */
  default(others: DefaultsContext): T;
  merge: MergeRule<T>;
  /** The value in `check --json` (default: as is). */
  json?(value: T): unknown;
  /**
   * What `key:` with no value at all means, when an operator may not expect it: `check` warns
   * with this text (config/empty-lists.ts).
   */
  blank?: string;
}

/** Declares a setting (the type argument is the value's type in `Config`). */
export function setting<T>(declaration: Setting<T>): Setting<T> {
  return declaration;
}

/** A mapping of settings (`flannel:`, `metrics:`): its keys are settings named `section.key`. */
export interface Section {
  doc: string;
  /** Shown when the value is not a mapping: `expected a mapping (e.g. "<example>" …)`. */
  example: string;
  /**
   * Whether an unknown top-level key that is close to one of this section's keys gets
   * "did you mean <section>.<key>?". Only flannel's keys are specific enough to guess from.
   */
  suggestFromTopLevel: boolean;
}
