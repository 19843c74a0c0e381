/**
 * Readers for the policy keys (masqueradeCIDRs, sourceCIDRs, outputInterfaces, snatAddress,
 * snatAddressIPv6). The lists keep each entry's position (`keepList`), so the merge can name
 * the place of an entry in an error (the same prefix in both destination lists) and `explain`
 * and `check --json` can say which file and line an entry came from.
 */
import { isScalar, isSeq } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { IpFamily } from '../net/cidr.js';
import { parseCidr, type Cidr } from '../net/cidr.js';
import type { Loc } from './issues.js';
import { parseInterfaceName, parseSnatAddress } from './policy-values.js';
import { reportAt, type Field, type ReadContext } from './setting.js';

/**
 * The items of a list key, each parsed by `parse` (null after it reported a problem); `[]` for
 * `key:` with no value. Positions of the accepted items go to keepList.
 */
function readList<T>(
  field: Field,
  cx: ReadContext,
  what: string,
  parse: (text: string, at: YamlNode | null, path: string) => T | null,
): { values: T[]; cidrs: Cidr[] } | undefined {
  const { node } = field;
  const values: T[] = [];
  const locs: Loc[] = [];
  if (isScalar(node) && node.value === null) return { values, cidrs: [] };
  if (!isSeq(node)) {
    const example =
      isScalar(node) && typeof node.value === 'string' ? `; write [${node.value}]` : '';
    reportAt(cx, field, `expected a list of ${what}, got ${cx.describe(node)}${example}`);
    return undefined;
  }
  node.items.forEach((raw, i) => {
    const path = `${field.path}[${i}]`;
    const at = (raw as YamlNode | null) ?? null;
    const item = cx.deref(at, path);
    if (isScalar(item) && typeof item.value === 'string' && item.value !== '') {
      const value = parse(item.value, at, path);
      if (value !== null) {
        values.push(value);
        locs.push(cx.issues.locate(at, field.keyOffset));
      }
    } else {
      cx.issues.at(
        at,
        field.keyOffset,
        path,
        `expected ${what.replace(/s$/, '')} string, got ${cx.describe(item)}`,
      );
    }
  });
  const cidrs = values.filter((v): v is T & Cidr => typeof v === 'object' && v !== null);
  cx.keepList(field.path, {
    cidrs,
    at: cx.issues.locate(field.at, field.keyOffset),
    lineOf: (i) => (locs[i] as Loc).line,
    locOf: (i) => locs[i] as Loc,
  });
  return { values, cidrs };
}

/** masqueradeCIDRs, sourceCIDRs: a list of prefixes (IPv6 ones count only with enableIPv6). */
export function readPolicyCidrs(field: Field, cx: ReadContext): Cidr[] | undefined {
  return readList(field, cx, 'CIDRs', (text, at, path) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) {
      cx.issues.at(at, field.keyOffset, path, parsed.reason);
      return null;
    }
    if (parsed.cidr.family === 'ipv6')
      cx.ipv6Issues.at(
        at,
        field.keyOffset,
        path,
        `${JSON.stringify(text)} is an IPv6 prefix but enableIPv6 is false; set enableIPv6: true, or remove it`,
      );
    return parsed.cidr;
  })?.values;
}

/** outputInterfaces: interface names, `eth*` a prefix wildcard. */
export function readInterfaceNames(field: Field, cx: ReadContext): string[] | undefined {
  return readList(field, cx, 'interface names', (text, at, path) => {
    const parsed = parseInterfaceName(text);
    if (parsed.ok) return parsed.value;
    cx.issues.at(at, field.keyOffset, path, parsed.reason);
    return null;
  })?.values;
}

/** snatAddress / snatAddressIPv6: one address of the family; `key:` with no value = unset. */
export function readSnatAddress(family: IpFamily) {
  return (field: Field, cx: ReadContext): string | null | undefined => {
    const { node } = field;
    if (isScalar(node) && node.value === null) return null;
    if (!isScalar(node) || typeof node.value !== 'string') {
      const example = family === 'ipv4' ? '192.0.2.9' : '"2001:db8::9"';
      reportAt(cx, field, `expected an address such as ${example}, got ${cx.describe(node)}`);
      return undefined;
    }
    const parsed = parseSnatAddress(node.value, family);
    if (parsed.ok) return parsed.value;
    reportAt(cx, field, parsed.reason);
    return undefined;
  };
}
