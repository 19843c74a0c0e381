/**
 * The walk of one parsed file: its mapping's keys are dispatched to the settings' readers
 * (registry.ts), sections (`flannel:`, `metrics:`) are walked the same way one level down, and
 * unknown, mis-cased and duplicate keys are reported with a did-you-mean. Nothing here knows a
 * particular key: the key lists and readers all come from the registry.
 */
import { isAlias, isMap, isScalar } from 'yaml';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import { closestKey } from './did-you-mean.js';
import { describeNode } from './describe.js';
import type { FastCidrList } from './fast-cidr-list.js';
import type { Issues, Loc } from './issues.js';
import type { SettingKey } from './schema.js';
import { declarationOf, isSection, sectionKeys, sectionOf, TOP_LEVEL_NAMES } from './settings.js';
import type { CidrListDetail, Field, ReadContext } from './setting.js';

/** What one file says, as far as it can be told without the other files. */
export interface FileSettings {
  /** The settings this file sets to a valid value. */
  values: Map<SettingKey, unknown>;
  /** Every setting this file sets (valid or not) → position of its key. */
  set: Map<SettingKey, Loc>;
  /** Every setting this file sets → position of its value (its key when empty). */
  valueAt: Map<SettingKey, Loc>;
  /** Per-entry detail of the CIDR-list settings that keep it (nonMasqueradeCIDRs). */
  lists: Map<string, CidrListDetail>;
  /** IPv6 prefixes, which are problems only if the merged `enableIPv6` is false. */
  ipv6Issues: Issues;
  /** Whether the fast path's list was the top-level nonMasqueradeCIDRs (see parse.ts). */
  usedFastList: boolean;
}

const TOP_LEVEL_HINT_SECTIONS = TOP_LEVEL_NAMES.filter(
  (name) => isSection(name) && sectionOf(name).suggestFromTopLevel,
);

export function walkDocument(
  text: string,
  doc: Document.Parsed,
  issues: Issues,
  fast: FastCidrList | null,
): FileSettings {
  const result: FileSettings = {
    values: new Map(),
    set: new Map(),
    valueAt: new Map(),
    lists: new Map(),
    ipv6Issues: issues.sibling(),
    usedFastList: false,
  };
  const describe = (node: YamlNode | null | undefined): string => describeNode(node, text);
  const deref = (node: YamlNode | null, path: string): YamlNode | null => {
    if (!isAlias(node)) return node;
    const target = node.resolve(doc);
    if (target === undefined) {
      issues.at(node, 0, path, `alias *${node.source} refers to no anchor defined before it`);
      return null;
    }
    return target;
  };
  const cx: ReadContext = {
    issues,
    ipv6Issues: result.ipv6Issues,
    describe,
    deref,
    text,
    fast,
    usedFastList: () => void (result.usedFastList = true),
    keepList: (path, detail) => void result.lists.set(path, detail),
  };

  const readSetting = (key: SettingKey, field: Field): void => {
    result.set.set(key, issues.locateOffset(field.keyOffset));
    result.valueAt.set(key, issues.locate(field.at, field.keyOffset));
    const value = declarationOf(key).read(field, cx);
    if (value !== undefined) result.values.set(key, value);
  };

  /** Known keys of a mapping, with unknown/mis-cased/duplicate keys reported. */
  const fieldsOf = (
    pairs: readonly Pair<unknown, unknown>[],
    known: readonly string[],
    prefix: string,
  ): Map<string, Field> => {
    const fields = new Map<string, Field>();
    for (const pair of pairs) {
      const keyNode = pair.key as YamlNode | null;
      const keyOffset = keyNode?.range?.[0] ?? 0;
      const valueAt = (pair.value as YamlNode | null) ?? null;
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        issues.at(keyNode, keyOffset, prefix, `keys must be plain names, got ${describe(keyNode)}`);
        continue;
      }
      const key = keyNode.value;
      const path = prefix ? `${prefix}.${key}` : key;
      if (!known.includes(key)) {
        issues.atOffset(keyOffset, prefix, unknownKeyMessage(key, known, prefix));
        continue;
      }
      if (fields.has(key)) {
        issues.atOffset(keyOffset, path, `duplicate key "${key}"; each key may appear only once`);
        continue;
      }
      const node = deref(valueAt, path);
      // A dangling alias is already reported; checking its (missing) value would repeat it.
      if (isAlias(valueAt) && node === null) continue;
      fields.set(key, { node, at: valueAt, keyOffset, path });
    }
    return fields;
  };

  const walkSection = (name: string, field: Field): void => {
    const { node } = field;
    // `flannel:` with every child commented out means "all defaults", like an empty file.
    if (isScalar(node) && node.value === null) return;
    if (!isMap(node)) {
      const example = isSection(name) ? sectionOf(name).example : '';
      issues.at(
        field.at,
        field.keyOffset,
        field.path,
        `expected a mapping (e.g. "${example}" on the next line, indented), got ${describe(node)}`,
      );
      return;
    }
    for (const [key, f] of fieldsOf(node.items, sectionKeys(name), name))
      readSetting(`${name}.${key}` as SettingKey, f);
  };

  const contents = doc.contents;
  // Empty, whitespace-only and comment-only files, and a bare `null`/`~`: all defaults,
  // as upstream (its YAML → JSON null unmarshals to nothing).
  if (contents === null || (isScalar(contents) && contents.value === null)) return result;
  if (!isMap(contents)) {
    issues.at(
      contents,
      0,
      '',
      `expected a mapping of settings (e.g. "masqLinkLocal: false"), got ${describe(contents)}`,
    );
    return result;
  }
  for (const [name, field] of fieldsOf(contents.items, TOP_LEVEL_NAMES, '')) {
    if (isSection(name)) walkSection(name, field);
    else readSetting(name as SettingKey, field);
  }
  return result;
}

function unknownKeyMessage(key: string, known: readonly string[], prefix: string): string {
  const quoted = JSON.stringify(key);
  const suggestion = closestKey(key, known);
  if (suggestion !== null) {
    const caseOnly = suggestion.toLowerCase() === key.toLowerCase();
    return `unknown key ${quoted}; did you mean ${suggestion}?${caseOnly ? ' (keys are case-sensitive)' : ''}`;
  }
  // At the top level, a key that belongs in a section: "did you mean flannel.subnetEnv?".
  if (prefix === '') {
    for (const section of TOP_LEVEL_HINT_SECTIONS) {
      const nested = closestKey(key, sectionKeys(section));
      if (nested !== null)
        return `unknown key ${quoted}; did you mean ${section}.${nested}? (it belongs under "${section}:")`;
    }
  }
  const where = prefix ? `under "${prefix}:"` : 'at the top level';
  return `unknown key ${quoted}; valid keys ${where}: ${known.join(', ')}`;
}
