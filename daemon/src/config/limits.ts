/**
 * Shape limits for one config file, checked by a linear scan before yaml ever sees the text.
 *
 * yaml's composer costs ~2.5 µs per node on this machine kind, and a few things cost more
 * (each alias is resolved by walking the document): a 4 MiB file of keys, list entries or
 * aliases would take 3–10 s to parse, during which the daemon heals nothing. A real config has
 * ~20 keys and one big CIDR list, and the big list never reaches yaml (fast-cidr-list.ts lifts
 * it out first). So whatever yaml is given must be small in structure, not only in bytes:
 *
 *   - at most MAX_KEYS mapping keys, MAX_ENTRIES collection entries and MAX_ALIASES aliases;
 *   - flow collections nested at most MAX_DEPTH deep, lines indented at most MAX_INDENT.
 *
 * The scan over-approximates (it may count a `: ` inside a block scalar as a key), which only
 * ever makes it stricter, and every limit is far above what a config file holds. Pure.
 */

export interface ConfigLimits {
  maxKeys: number;
  maxEntries: number;
  maxAliases: number;
  maxDepth: number;
  maxIndent: number;
}

export const CONFIG_LIMITS: ConfigLimits = {
  maxKeys: 1_000,
  maxEntries: 50_000,
  maxAliases: 100,
  maxDepth: 64,
  maxIndent: 256,
};

/** Total bytes of all drop-ins of config.d together (each file alone has MAX_CONFIG_BYTES). */
export const MAX_DROPINS_TOTAL_BYTES = 16 * 1024 * 1024;

export interface LimitExceeded {
  /** Offset of the first thing over the limit, for a file:line:col. */
  offset: number;
  message: string;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09;
const isBreak = (c: number): boolean => c === 0x0a || c === 0x0d;
const isBlank = (c: number): boolean => isSpace(c) || isBreak(c) || Number.isNaN(c);
/** Characters after which a token (quote, alias, anchor) may start. */
const isTokenStart = (c: number): boolean =>
  Number.isNaN(c) || isBlank(c) || c === 0x5b || c === 0x7b || c === 0x2c; // [ { ,

const FIX =
  'a config file holds ~20 settings and one CIDR list (write the list one "- 10.0.0.0/8" per line, or as a JSON array)';

/** The first limit `text` exceeds, or null. Linear in the text, no allocation per character. */
export function exceedsLimits(
  text: string,
  limits: ConfigLimits = CONFIG_LIMITS,
): LimitExceeded | null {
  let keys = 0;
  let entries = 0;
  let aliases = 0;
  let depth = 0;
  let lineStart = true;
  let indent = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (isBreak(c)) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      if (c === 0x20) {
        indent++;
        continue;
      }
      lineStart = false;
      // Only a line with content is nested that deep (blank lines may hold any spaces).
      if (indent > limits.maxIndent)
        return { offset: i, message: `indented more than ${limits.maxIndent} columns; ${FIX}` };
    }
    const prev = i > 0 ? text.charCodeAt(i - 1) : NaN;
    const next = i + 1 < n ? text.charCodeAt(i + 1) : NaN;
    switch (c) {
      case 0x23: // # comment (only at a token boundary)
        if (Number.isNaN(prev) || isBlank(prev)) {
          while (i + 1 < n && !isBreak(text.charCodeAt(i + 1))) i++;
        }
        break;
      case 0x22: // "double quoted"
        if (isTokenStart(prev) || prev === 0x3a || prev === 0x2d) {
          for (i++; i < n && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
        }
        break;
      case 0x27: // 'single quoted' ('' is an escaped quote)
        if (isTokenStart(prev) || prev === 0x3a || prev === 0x2d) {
          for (i++; i < n; i++) {
            if (text.charCodeAt(i) !== 0x27) continue;
            if (text.charCodeAt(i + 1) === 0x27) i++;
            else break;
          }
        }
        break;
      case 0x3a: // `key: value`, `key:` at the end of a line, `{a:1}` in flow
        if (isBlank(next) || (depth > 0 && (next === 0x2c || next === 0x5d || next === 0x7d))) {
          if (++keys > limits.maxKeys)
            return {
              offset: i,
              message: `more than ${limits.maxKeys} mapping keys; ${FIX}`,
            };
        }
        break;
      case 0x2d: // `- entry`
        if (isBlank(next) && (Number.isNaN(prev) || isBlank(prev)) && ++entries > limits.maxEntries)
          return { offset: i, message: `more than ${limits.maxEntries} list entries; ${FIX}` };
        break;
      case 0x2c: // `,` between flow entries
        if (depth > 0 && ++entries > limits.maxEntries)
          return { offset: i, message: `more than ${limits.maxEntries} list entries; ${FIX}` };
        break;
      case 0x5b: // [
      case 0x7b: // {
        if (isTokenStart(prev) || prev === 0x3a || prev === 0x2d) {
          if (++depth > limits.maxDepth)
            return {
              offset: i,
              message: `collections nested more than ${limits.maxDepth} deep; ${FIX}`,
            };
        }
        break;
      case 0x5d: // ]
      case 0x7d: // }
        if (depth > 0) depth--;
        break;
      case 0x2a: // *alias
        if (isTokenStart(prev) && !isBlank(next) && ++aliases > limits.maxAliases)
          return {
            offset: i,
            message: `more than ${limits.maxAliases} aliases (*name); ${FIX}`,
          };
        break;
    }
  }
  return null;
}
