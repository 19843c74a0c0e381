/** How a YAML node is named in an operator's error message: "string \"yes\"", "a list", … */
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node as YamlNode } from 'yaml';

/** `text` is the text the node was parsed from (numbers and booleans are shown as written). */
export function describeNode(node: YamlNode | null | undefined, text: string): string {
  if (node === null || node === undefined) return 'nothing (an empty value)';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null)
      return node.range && node.range[1] > node.range[0] ? 'null' : 'nothing (an empty value)';
    if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
    const source = node.range ? text.slice(node.range[0], node.range[1]) : String(v);
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
