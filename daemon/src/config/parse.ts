/**
 * One config file's text → a `ConfigFragment`: what the file sets, where, and every problem of
 * the file with its line:col and field path. Pure: no I/O (load.ts reads files), no merging
 * (merge.ts combines config.yaml with its drop-ins).
 *
 * Semantics follow ip-masq-agent (a present key replaces its default; absent/empty file means
 * all defaults), but stricter where upstream silently guesses: unknown or mis-cased keys,
 * YAML 1.1 booleans (`yes`), duplicate keys, multi-document files and a non-positive
 * `resyncInterval` are errors. Validation walks the YAML AST rather than a converted JS value,
 * so every message points at the node that is wrong.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue } from '../errors.js';
import { findFastCidrList, type FastCidrList } from './fast-cidr-list.js';
import { Issues, lineIndex, type Loc } from './issues.js';
import { CONFIG_LIMITS, exceedsLimits, type ConfigLimits } from './limits.js';
import type { SettingKey } from './schema.js';
import type { CidrListDetail } from './setting.js';
import { walkDocument, type FileSettings } from './walk.js';

/**
 * One file's contribution to the configuration (see merge.ts): its values, which settings it
 * sets and where, and its problems. Issues that depend on other files (an IPv6 prefix while
 * `enableIPv6` may be set elsewhere, `cidrLimit` over the merged list) are decided by the merge.
 */
export interface ConfigFragment {
  file: string;
  /** The settings the file sets to a valid value. */
  values: ReadonlyMap<SettingKey, unknown>;
  /** Problems of this file alone, in file order. */
  issues: ConfigIssue[];
  /** One issue per IPv6 prefix: they count only if the merged `enableIPv6` is false. */
  ipv6Issues: ConfigIssue[];
  /** Every setting the file sets → position of its key. */
  set: ReadonlyMap<SettingKey, Loc>;
  /** Every setting the file sets → position of its value (its key when empty). */
  valueAt: ReadonlyMap<SettingKey, Loc>;
  /** Per-entry detail of the CIDR lists that keep it (`nonMasqueradeCIDRs`). */
  lists: ReadonlyMap<string, CidrListDetail>;
}

/**
 * Parses one file of a set (config.yaml and its drop-ins) for `mergeConfigFragments`. Never
 * throws: the problems are in the fragment. `fastPath: false` turns the big-list fast path off,
 * so tests and benchmarks can check that both paths agree.
 */
export function parseConfigFragment(
  text: string,
  file: string,
  options: { fastPath: boolean; limits?: ConfigLimits | null } = { fastPath: true },
): ConfigFragment {
  const limits = options.limits === undefined ? CONFIG_LIMITS : options.limits;
  if (options.fastPath) {
    const fast = findFastCidrList(text);
    if (fast !== null) {
      const attempt = validateText(fast.text, file, fast, text, limits);
      // Positions on the fast path are mapped back to the original text, so its issues are
      // final, unless the marker turned out not to be the top-level list or the rest has a
      // syntax error (whose wording could depend on the splice): then start over.
      if (attempt.usedFastList && !attempt.syntaxBroken) return attempt.fragment;
    }
  }
  return validateText(text, file, null, text, limits).fragment;
}

interface ValidationResult {
  fragment: ConfigFragment;
  usedFastList: boolean;
  syntaxBroken: boolean;
}

function validateText(
  text: string,
  file: string,
  fast: FastCidrList | null,
  original: string,
  limits: ConfigLimits | null,
): ValidationResult {
  const lineCounter = new LineCounter();
  // What yaml is given must be small in structure (limits.ts): checked in linear time first.
  const over = limits === null ? null : exceedsLimits(text, limits);
  const issues =
    fast === null
      ? new Issues(
          file,
          over === null ? (offset) => lineCounter.linePos(offset) : lineIndex(text),
          (offset) => offset,
        )
      : new Issues(file, lineIndex(original), fast.mapOffset);
  const fragment = (walked: FileSettings | null): ConfigFragment => ({
    file,
    values: walked?.values ?? new Map(),
    issues: issues.sorted(),
    ipv6Issues: walked?.ipv6Issues.sorted() ?? [],
    set: walked?.set ?? new Map(),
    valueAt: walked?.valueAt ?? new Map(),
    lists: walked?.lists ?? new Map(),
  });
  if (over !== null) {
    issues.atOffset(over.offset, '', over.message);
    return { fragment: fragment(null), usedFastList: false, syntaxBroken: true };
  }
  // yaml's own duplicate-key check compares every key with every other (quadratic: 40,000
  // keys took 38 s); walk.ts finds duplicates of the keys that count with a Map instead.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });

  let syntaxBroken = false;
  for (const e of doc.errors) {
    // Duplicate keys are reported by the walk, with the key's path.
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
  // The AST of a file with syntax errors is a guess: report only the syntax errors.
  if (syntaxBroken) return { fragment: fragment(null), usedFastList: false, syntaxBroken };
  for (const w of doc.warnings) issues.atOffset(w.pos[0], '', `YAML: ${w.message}`);

  const walked = walkDocument(text, doc, issues, fast);
  return { fragment: fragment(walked), usedFastList: walked.usedFastList, syntaxBroken };
}
