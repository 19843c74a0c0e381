/**
 * Readers for CIDR-list settings. `nonMasqueradeCIDRs` may hold 100,000 entries, so its items
 * can come from the fast path (fast-cidr-list.ts) instead of the YAML AST, and the per-entry
 * lines that `check --json` shows are computed only when asked for.
 */
import { isScalar, isSeq } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { parseCidr, type Cidr } from '../net/cidr.js';
import type { Issues } from './issues.js';
import { reportAt, type Field, type ReadContext } from './setting.js';

interface Entries {
  texts: string[];
  cidrs: Cidr[];
}

/** A list of CIDRs as written (texts, for `check --json`), parsed prefixes kept for the merge. */
export function readCidrTexts(field: Field, cx: ReadContext): string[] | undefined {
  const offsets: number[] = [];
  const entries = readEntries(field, cx, false, offsets);
  const keyLine = cx.issues.locateOffset(field.keyOffset).line;
  cx.keepList(field.path, {
    cidrs: entries.cidrs,
    at: cx.issues.locate(field.at, field.keyOffset),
    lineOf: (i) => {
      const offset = offsets[i];
      return offset === undefined ? keyLine : cx.issues.lineOfOriginal(offset);
    },
  });
  return entries.texts;
}

/** A list of CIDRs, or one CIDR string in place of a list (flannel's fields). */
export function readCidrsOrOne(field: Field, cx: ReadContext): Cidr[] | undefined {
  return readEntries(field, cx, true).cidrs;
}

/**
 * The entries of a CIDR list. `allowSingle` accepts one string in place of a list. Null means
 * an empty list (upstream: JSON null sets the slice to nil). `offsets` (optional) receives each
 * entry's offset in the original text, for the per-entry provenance of `check --json`.
 */
function readEntries(
  field: Field,
  cx: ReadContext,
  allowSingle: boolean,
  offsets?: number[],
): Entries {
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
    if (!parsed.ok) report(cx.issues, parsed.reason);
    else {
      // Valid only if the merged config enables IPv6 (maybe in another file): merge.ts decides.
      if (parsed.cidr.family === 'ipv6') {
        report(
          cx.ipv6Issues,
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
    reportAt(cx, field, `expected a list of CIDRs, got ${cx.describe(node)}${example}`);
    return { texts, cidrs };
  }
  const fast = cx.fast;
  if (
    fast !== null &&
    field.path === 'nonMasqueradeCIDRs' &&
    node.items.length === 0 &&
    node.range?.[0] === fast.markerOffset
  ) {
    // The fast path's list (see fast-cidr-list.ts), with its items' offsets in the original.
    cx.usedFastList();
    const { items, itemOffsets } = fast;
    for (let i = 0; i < items.length; i++) {
      const text = items[i] as string;
      texts.push(text);
      addOne(text, itemOffsets[i] as number, `${field.path}[${i}]`);
    }
    // Not push(...itemOffsets): a 4 MiB list has ~220,000 entries, more than the stack holds.
    if (offsets) for (const o of itemOffsets) offsets.push(o);
    return { texts, cidrs };
  }
  node.items.forEach((raw, i) => {
    const path = `${field.path}[${i}]`;
    const at = (raw as YamlNode | null) ?? null;
    const item = cx.deref(at, path);
    const fallback = dashBefore(cx.text, at?.range?.[0] ?? node.range?.[0] ?? field.keyOffset);
    offsets?.push(cx.issues.original(at?.range?.[0] ?? fallback));
    if (isScalar(item) && typeof item.value === 'string' && item.value !== '') {
      texts.push(item.value);
      addOne(item.value, at, path);
    } else if (item === null || (isScalar(item) && (item.value === null || item.value === ''))) {
      texts.push('');
      cx.issues.at(
        at,
        fallback,
        path,
        'empty entry; write a CIDR such as 10.0.0.0/8 or remove the line',
      );
    } else {
      texts.push(isScalar(item) ? String(item.value) : '');
      cx.issues.at(
        at,
        fallback,
        path,
        `expected a CIDR string such as "10.0.0.0/8", got ${cx.describe(item)}`,
      );
    }
  });
  return { texts, cidrs };
}

/**
 * An empty list item (`-` alone) has a zero-width node at the end of its line; point at its
 * dash instead, which is what the operator has to delete or fill in.
 */
function dashBefore(text: string, offset: number): number {
  const dash = text.lastIndexOf('-', offset - 1);
  if (dash === -1 || text.slice(dash + 1, offset).trim() !== '') return offset;
  return dash;
}
