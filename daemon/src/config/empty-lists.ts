/**
 * `nonMasqueradeCIDRs:` with nothing after it is valid YAML (null), and null means "no CIDRs":
 * every packet leaving the node is then masqueraded. Easy to write by accident (a list whose
 * items were deleted, an indentation slip), so `check` says what it means. Pure.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { ConfigIssue } from '../errors.js';
import { declarationOf, SETTING_KEYS } from './settings.js';

/** Keys whose declaration (registry.ts) says what an empty value means and what to write instead. */
const LIST_KEYS: ReadonlyArray<{ path: readonly string[]; meaning: string }> = SETTING_KEYS.flatMap(
  (key) => {
    const meaning = declarationOf(key).blank;
    return meaning === undefined ? [] : [{ path: key.split('.'), meaning }];
  },
);

function child(node: unknown, key: string): { key: YamlNode; value: unknown } | null {
  if (!isMap(node)) return null;
  for (const pair of node.items) {
    if (isScalar(pair.key) && pair.key.value === key)
      return { key: pair.key as YamlNode, value: pair.value };
  }
  return null;
}

/** A key written with no value at all (`key:`), not `key: null` or `key: ~`. */
function isBlank(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  return isScalar(value) && value.value === null && (value.source ?? '') === '';
}

/** One warning per list key of this file that has no value. Never throws (bad YAML: none). */
export function emptyListWarnings(text: string, file: string): ConfigIssue[] {
  const lines = new LineCounter();
  let doc;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  } catch {
    return [];
  }
  if (doc.errors.length > 0) return [];
  const out: ConfigIssue[] = [];
  for (const { path, meaning } of LIST_KEYS) {
    let node: unknown = doc.contents;
    let found: { key: YamlNode; value: unknown } | null = null;
    for (const key of path) {
      found = child(node, key);
      if (!found) break;
      node = found.value;
    }
    if (!found || !isBlank(found.value)) continue;
    const pos = lines.linePos(found.key.range?.[0] ?? 0);
    out.push({ file, line: pos.line, col: pos.col, path: path.join('.'), message: meaning });
  }
  return out;
}
