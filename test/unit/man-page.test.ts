/**
 * The man page and the CLI say the same thing: every option a verb's --help lists has an entry
 * in the man page's OPTIONS section and vice versa, every verb has a VERBS entry, and the
 * options a VERBS entry's heading shows are ones that verb takes. Adding a verb or an option
 * means adding it to packaging/ip-masq.8 too; this test says which.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERBS } from '../../daemon/src/verbs/index.js';
import { cli } from '../helpers/cli.js';
import { optionsListed } from '../helpers/help-options.js';

const MAN = readFileSync(new URL('../../packaging/ip-masq.8', import.meta.url), 'utf8');

/** The lines of a `.SH NAME` section. */
function section(name: string): string[] {
  const lines = MAN.split('\n');
  const start = lines.indexOf(`.SH ${name}`);
  expect(start, `man page has a ${name} section`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('.SH '));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** The heading line of each `.TP` entry. */
function entryHeadings(lines: string[]): string[] {
  return lines.flatMap((l, i) => (l === '.TP' && lines[i + 1] ? [lines[i + 1] as string] : []));
}

/** `--name` options in roff text (`\-\-state\-dir` → state-dir). */
function roffOptions(text: string): string[] {
  const plain = text.replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '');
  return [...plain.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string);
}

describe('man page packaging/ip-masq.8 vs the CLI', () => {
  it("lists in OPTIONS exactly the options the verbs' --help lists", async () => {
    const inHelp = new Set<string>(['version']);
    for (const verb of VERBS)
      for (const o of optionsListed((await cli(verb.name, '--help')).stdout)) inHelp.add(o);
    const inMan = new Set(entryHeadings(section('OPTIONS')).flatMap(roffOptions));
    const missingFromMan = [...inHelp].filter((o) => !inMan.has(o)).sort();
    const noVerbHasIt = [...inMan].filter((o) => !inHelp.has(o)).sort();
    expect({ missingFromMan, noVerbHasIt }).toEqual({ missingFromMan: [], noVerbHasIt: [] });
  });

  it('has a VERBS entry for every verb, whose heading shows only options that verb takes', () => {
    const headings = entryHeadings(section('VERBS'));
    for (const verb of VERBS) {
      const heading = headings.find((h) => new RegExp(`^\\.B ${verb.name}( |$)`).test(h));
      expect(heading, `VERBS entry for ${verb.name}`).toBeDefined();
      const accepted = new Set<string>([...verb.common, ...Object.keys(verb.options)]);
      const unknown = roffOptions(heading ?? '').filter((o) => !accepted.has(o));
      expect(unknown, `${verb.name}'s man heading`).toEqual([]);
    }
  });

  it('the parser would notice a gap', () => {
    expect(roffOptions('.BI \\-\\-state\\-dir " path"')).toEqual(['state-dir']);
    expect(roffOptions('.B render \\fR[\\fB\\-\\-format json\\fR]')).toEqual(['format']);
  });
});
