/**
 * Plan → nft's own text syntax: what `nft list table ip ip-masq` shows, for a person reviewing
 * a change, and a script that `nft -f` loads with the same effect as apply's JSON batch. Pure.
 *
 * It mirrors planToBatch (to-nft.ts) line for line: first the add + delete idiom that removes
 * each of our tables whether or not it exists (nft 1.0.6 has no `destroy`), then the tables.
 * `nft -f` runs a file as one transaction, so the replace is atomic here too.
 */
import { formatCidr } from '../net/cidr.js';
import { ruleText } from '../plan/explain.js';
import {
  CHAIN_NAME,
  CHAIN_PRIORITY,
  SET_NAME,
  TABLE_NAME,
  type NftTableFamily,
  type Plan,
  type PlanTable,
} from '../plan/plan.js';

const ALL_FAMILIES: readonly NftTableFamily[] = ['ip', 'ip6'];
/** nft's name for the nat postrouting priority 100, as `nft list` prints ours (110). */
const SRCNAT = 100;
/** Set elements per line, so a 10,000-prefix list stays readable in a diff. */
const ELEMENTS_PER_LINE = 4;

function priorityText(prio: number): string {
  if (prio === SRCNAT) return 'srcnat';
  return prio > SRCNAT ? `srcnat + ${prio - SRCNAT}` : `srcnat - ${SRCNAT - prio}`;
}

/** A double-quoted nft string; our comments hold no quote, but never emit a broken line. */
function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, "'")}"`;
}

function elementsText(t: PlanTable): string[] {
  if (t.set.length === 0) return [];
  const items = t.set.map(formatCidr);
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += ELEMENTS_PER_LINE)
    lines.push(items.slice(i, i + ELEMENTS_PER_LINE).join(', '));
  return [`\t\telements = { ${lines.join(',\n\t\t\t     ')} }`];
}

function tableText(t: PlanTable): string {
  return [
    `table ${t.family} ${TABLE_NAME} {`,
    `\tset ${SET_NAME} {`,
    `\t\ttype ${t.ipFamily === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr'}`,
    '\t\tflags interval',
    ...elementsText(t),
    '\t}',
    '',
    `\tchain ${CHAIN_NAME} {`,
    `\t\ttype nat hook postrouting priority ${priorityText(CHAIN_PRIORITY)}; policy accept;`,
    ...t.rules.map((r) => `\t\t${ruleText(t.family, r)} comment ${quoted(r.comment)}`),
    '\t}',
    '}',
  ].join('\n');
}

/** The nft script that replaces our tables with exactly what the plan says. */
export function planToText(plan: Plan): string {
  const lines = [
    '#!/usr/sbin/nft -f',
    '# ip-masq: replaces its tables in one transaction (add + delete removes any old one).',
  ];
  for (const family of ALL_FAMILIES)
    lines.push(`table ${family} ${TABLE_NAME}`, `delete table ${family} ${TABLE_NAME}`);
  for (const t of plan.tables) lines.push('', tableText(t));
  return `${lines.join('\n')}\n`;
}
