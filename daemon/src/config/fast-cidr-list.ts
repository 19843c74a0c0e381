/**
 * Fast path for big `nonMasqueradeCIDRs` lists.
 *
 * The `yaml` package needs about 1.5 s to build an AST for 100,000 list items, against a
 * budget of ~400 ms for loading. Nearly every big list is written in one of two plain shapes:
 *
 *     nonMasqueradeCIDRs:                     {"nonMasqueradeCIDRs": ["10.0.0.0/24", …]}
 *       - 10.0.0.0/24                         nonMasqueradeCIDRs: [10.0.0.0/24, …]
 *       - "10.0.1.0/24"  # comment
 *
 * This module recognises exactly those shapes with items made only of address characters,
 * lifts the items out (with their offsets), and splices an empty `[]` in their place. The
 * caller parses the (now small) rest with `yaml` as usual and must check that the marker `[]`
 * really is the value of the top-level `nonMasqueradeCIDRs` key; if it is not (the text was
 * inside a string, a nested map, …), or the rest has a YAML syntax error, the caller starts
 * over on the original text. `mapOffset` translates offsets in the spliced text back to the
 * original, so issues found on the fast path carry the same line:col as on the full path.
 */

export interface FastCidrList {
  /** The text with the list replaced by `[]`. */
  text: string;
  /** Offset of the `[` of the replacement in `text`. */
  markerOffset: number;
  /** The items, as strings, in order. */
  items: string[];
  /** Offset in the original text of each item's node (its quote, if quoted). */
  itemOffsets: number[];
  /** Offset in `text` → offset in the original text. */
  mapOffset(offset: number): number;
}

/** Bookkeeping of one splice: original[start, start+removed) became spliced[start, start+inserted). */
function offsetMapper(
  start: number,
  removed: number,
  inserted: number,
  listOffset: number,
): (offset: number) => number {
  return (offset) => {
    if (offset < start) return offset;
    // Inside the replacement: that is the list node itself.
    if (offset < start + inserted) return listOffset;
    return offset - inserted + removed;
  };
}

const KEY = 'nonMasqueradeCIDRs';

/**
 * Unquoted items must start and end with a hex digit and contain a '/': such a plain scalar
 * can never resolve to a number, bool or null, and cannot hide a `: ` mapping indicator.
 * Quoted items may not contain escapes or their quote, so their value is their source.
 */
const ITEM_BODY = String.raw`(?:"([0-9A-Fa-f.:/]+)"|'([0-9A-Fa-f.:/]+)'|([0-9A-Fa-f][0-9A-Fa-f.:]*\/[0-9A-Fa-f.:/]*[0-9A-Fa-f]))`;
const BLOCK_ITEM = new RegExp(String.raw`^( *)-( +)${ITEM_BODY}(?: +#.*)? *\r?$`);
const BLANK_OR_COMMENT = /^ *(?:#.*)?\r?$/;
const BLOCK_KEY = new RegExp(String.raw`^${KEY}:[ ]*(?:#.*)?\r?$`, 'gm');
const FLOW_KEY = new RegExp(String.raw`(["']?)${KEY}\1\s*:\s*\[`, 'g');
const PLAIN_ITEM = new RegExp(String.raw`^${ITEM_BODY}$`);

/** The big list lifted out of `text`, or null when `text` does not have one of the plain shapes. */
export function findFastCidrList(text: string): FastCidrList | null {
  return findBlockList(text) ?? findFlowList(text);
}

function itemValue(m: RegExpExecArray, first: number): string {
  return (m[first] ?? m[first + 1] ?? m[first + 2]) as string;
}

function findBlockList(text: string): FastCidrList | null {
  const keys = [...text.matchAll(BLOCK_KEY)];
  if (keys.length !== 1) return null;
  const keyMatch = keys[0] as RegExpMatchArray;
  const colonEnd = (keyMatch.index as number) + KEY.length + 1;
  let lineStart = text.indexOf('\n', colonEnd);
  if (lineStart === -1) return null;
  lineStart += 1;

  const items: string[] = [];
  const itemOffsets: number[] = [];
  let indent = -1;
  let listOffset = -1;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd);
    const m = BLOCK_ITEM.exec(line);
    if (m !== null) {
      const itemIndent = (m[1] as string).length;
      if (indent === -1) {
        indent = itemIndent;
        listOffset = lineStart + indent; // a block list's node starts at its first '-'
      } else if (itemIndent !== indent) {
        return null;
      }
      items.push(itemValue(m, 3));
      itemOffsets.push(lineStart + itemIndent + 1 + (m[2] as string).length);
    } else if (!BLANK_OR_COMMENT.test(line)) {
      // The list must end at a new top-level key; anything else (a continuation line, a
      // differently shaped item, a document marker) is left to the full parser.
      const first = line.charAt(0);
      if (first === ' ' || first === '\t' || first === '-') return null;
      break;
    }
    lineStart = lineEnd + 1;
  }
  if (items.length === 0) return null;
  const end = Math.min(lineStart, text.length);
  const replacement = ' []\n';
  return {
    text: `${text.slice(0, colonEnd)}${replacement}${text.slice(end)}`,
    markerOffset: colonEnd + 1,
    items,
    itemOffsets,
    mapOffset: offsetMapper(colonEnd, end - colonEnd, replacement.length, listOffset),
  };
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

function findFlowList(text: string): FastCidrList | null {
  const keys = [...text.matchAll(FLOW_KEY)];
  if (keys.length !== 1) return null;
  const keyMatch = keys[0] as RegExpMatchArray;
  const open = (keyMatch.index as number) + keyMatch[0].length - 1;
  const items: string[] = [];
  const itemOffsets: number[] = [];
  let i = open + 1;
  for (;;) {
    while (i < text.length && isSpace(text.charAt(i))) i++;
    if (text.charAt(i) === ']' && items.length > 0) break;
    let j = i;
    const quote = text.charAt(i);
    if (quote === '"' || quote === "'") {
      j = text.indexOf(quote, i + 1);
      if (j === -1) return null;
      j += 1;
    } else {
      while (
        j < text.length &&
        !isSpace(text.charAt(j)) &&
        text.charAt(j) !== ',' &&
        text.charAt(j) !== ']'
      )
        j++;
    }
    const m = PLAIN_ITEM.exec(text.slice(i, j));
    if (m === null) return null;
    items.push(itemValue(m, 1));
    itemOffsets.push(i);
    i = j;
    while (i < text.length && isSpace(text.charAt(i))) i++;
    if (text.charAt(i) === ',') {
      i++;
      while (i < text.length && isSpace(text.charAt(i))) i++;
      if (text.charAt(i) === ']') break; // a trailing comma is valid YAML flow syntax
      continue;
    }
    if (text.charAt(i) === ']') break;
    return null;
  }
  const close = i;
  // In a block context a flow list's lines must be indented; a line starting at column 0
  // inside it is a YAML error that only the full parser reports.
  if (/\n[^ \t\r\n]/.test(text.slice(open, close))) return null;
  return {
    text: `${text.slice(0, open)}[]${text.slice(close + 1)}`,
    markerOffset: open,
    items,
    itemOffsets,
    mapOffset: offsetMapper(open, close + 1 - open, 2, open),
  };
}
