/**
 * flannel's MASQUERADE rules in iptables-legacy, read from `iptables-legacy-save -t nat`. Pure.
 *
 * Legacy rules live in x_tables and are invisible to nft, but they still masquerade (legacy nat
 * runs at the same priority as iptables-nft's). Unlike the nft view, iptables-save shows the
 * comment and `--random-fully`, so the exact spec is known and deletion is an exact
 * `iptables-legacy -t nat -D <chain> <spec>`.
 */
import { parseCidr, type Cidr } from '../net/cidr.js';
import type { FlannelFacts } from './subnet-env.js';

export interface SaveRule {
  table: string;
  chain: string;
  /** Arguments after `-A CHAIN`, unquoted. */
  args: string[];
  /** The line as printed, e.g. `-A POSTROUTING -s 10.244.0.0/16 … -j MASQUERADE --random-fully`. */
  line: string;
}

export interface LegacyRuleRef {
  family: 'ip' | 'ip6';
  chain: string;
  /** The iptables-legacy-save line. */
  line: string;
  /** The rule's `-m comment --comment` text, null when it has none. */
  comment: string | null;
  /** argv for iptables-legacy / ip6tables-legacy (without the binary): `-w -t nat -D CHAIN …`. */
  deleteArgs: string[];
  /** The command an operator can paste, shell-quoted. */
  command: string;
}

/**
 * Splits an iptables-save rule line into arguments. iptables-save double-quotes arguments that
 * contain spaces (e.g. comments) and escapes `"` and `\` inside them with a backslash; null for
 * an unterminated quote.
 */
export function splitSaveLine(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    let arg = '';
    if (line[i] === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const ch = line[i] as string;
        if (ch === '\\' && i + 1 < line.length) {
          arg += line[i + 1];
          i += 2;
        } else if (ch === '"') {
          i++;
          closed = true;
          break;
        } else {
          arg += ch;
          i++;
        }
      }
      if (!closed) return null;
    } else {
      while (i < line.length && line[i] !== ' ') arg += line[i++];
    }
    out.push(arg);
  }
  return out;
}

/** The `-A` rules of iptables-save output, with their table. */
export function parseIptablesSave(text: string): SaveRule[] {
  const rules: SaveRule[] = [];
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) table = line.slice(1);
    if (!line.startsWith('-A ')) continue;
    const args = splitSaveLine(line);
    if (!args || args.length < 2) continue;
    rules.push({ table, chain: args[1] as string, args: args.slice(2), line });
  }
  return rules;
}

/** The comment flanneld puts on every rule it writes (v0.16.2+). */
export const FLANNEL_COMMENT = 'flanneld masq';

function sameCidrText(text: string | undefined, c: Cidr): boolean {
  if (text === undefined) return false;
  const r = parseCidr(text);
  return r.ok && r.cidr.family === c.family && r.cidr.addr === c.addr && r.cidr.len === c.len;
}

/** The args of a rule without `-m comment --comment X` and `--random-fully`, and the comment. */
export function strip(args: readonly string[]): { core: string[]; comment: string | null } {
  const core: string[] = [];
  let comment: string | null = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-m' && args[i + 1] === 'comment' && args[i + 2] === '--comment') {
      comment = args[i + 3] ?? '';
      i += 3;
    } else if (args[i] !== '--random-fully') {
      core.push(args[i] as string);
    }
  }
  return { core, comment };
}

function isFlannelLegacyMasq(
  rule: SaveRule,
  family: 'ip' | 'ip6',
  facts: FlannelFacts | null,
): boolean {
  if (rule.table !== 'nat') return false;
  const { core, comment } = strip(rule.args);
  if (core.length < 2 || core[core.length - 2] !== '-j' || core[core.length - 1] !== 'MASQUERADE')
    return false;
  if (rule.chain === 'FLANNEL-POSTRTG' || comment === FLANNEL_COMMENT) return true;
  const network = (family === 'ip' ? facts?.ipv4 : facts?.ipv6)?.network;
  if (rule.chain !== 'POSTROUTING' || !network) return false;
  // flannel's shape with someone else's comment is someone else's rule (flannel/attribute.ts).
  if (comment !== null) return false;
  const m = core.slice(0, -2);
  const multicast = family === 'ip' ? '224.0.0.0/4' : 'ff00::/8';
  // -s C ! -d 224.0.0.0/4   |   ! -s C -d C
  if (m.length === 5 && m[0] === '-s' && m[2] === '!' && m[3] === '-d' && m[4] === multicast)
    return sameCidrText(m[1], network);
  if (m.length === 5 && m[0] === '!' && m[1] === '-s' && m[3] === '-d')
    return sameCidrText(m[2], network) && sameCidrText(m[4], network);
  return false;
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=+,@%-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * flannel's MASQUERADE rules in iptables-legacy-save output: chain FLANNEL-POSTRTG, the
 * "flanneld masq" comment, or the pre-v0.16.2 uncommented POSTROUTING shapes (those only with
 * facts). Each comes with the exact delete command.
 */
export function findLegacyFlannelMasquerade(
  saveText: string,
  family: 'ip' | 'ip6',
  facts: FlannelFacts | null,
): LegacyRuleRef[] {
  const binary = family === 'ip' ? 'iptables-legacy' : 'ip6tables-legacy';
  return parseIptablesSave(saveText)
    .filter((r) => isFlannelLegacyMasq(r, family, facts))
    .map((r) => {
      const deleteArgs = ['-w', '-t', 'nat', '-D', r.chain, ...r.args];
      return {
        family,
        chain: r.chain,
        line: r.line,
        comment: strip(r.args).comment,
        deleteArgs,
        command: [binary, ...deleteArgs].map(shellQuote).join(' '),
      };
    });
}
