/**
 * The shape of an `ip-masq` command line, before any verb runs. Pure.
 *
 * Operators bring habits from kubectl and git: common options before the verb
 * (`ip-masq --config X check`), and a suggestion for a mistyped verb (`chek`).
 */
import { closestKey } from './config/did-you-mean.js';

/** Options every verb may take, if it uses them (`Verb.common`). */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  nft: { type: 'string' },
} as const;
export type CommonOption = keyof typeof COMMON_OPTIONS;

export type SplitArgv =
  | { kind: 'help'; toStderr: boolean }
  | { kind: 'version' }
  | { kind: 'verb'; verb: string; args: string[] }
  | { kind: 'usage'; message: string };

const TAKES_VALUE = new Set(Object.keys(COMMON_OPTIONS).map((k) => `--${k}`));

/**
 * Splits argv into the verb and its arguments. Common options before the verb are global, like
 * kubectl's: they are handed to the verb if it uses them (`uses(verb)`) and otherwise dropped,
 * so a wrapper may pass `--nft` to every verb. After the verb, its own parser is strict.
 */
export function splitArgv(
  argv: readonly string[],
  uses: (verb: string) => readonly CommonOption[] = () => ['config', 'nft'],
): SplitArgv {
  const leading: Array<{ option: CommonOption; args: string[] }> = [];
  let i = 0;
  let help = false;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) break;
    if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--version' || arg === '-V') return { kind: 'version' };
    else if (TAKES_VALUE.has(arg.split('=')[0] as string)) {
      const option = (arg.split('=')[0] as string).slice(2) as CommonOption;
      if (arg.includes('=')) leading.push({ option, args: [arg] });
      else {
        const value = argv[i + 1];
        if (value === undefined)
          return { kind: 'usage', message: `option ${arg} needs a value, e.g. ${arg} PATH` };
        leading.push({ option, args: [arg, value] });
        i++;
      }
    } else {
      const known = [...TAKES_VALUE, '--help', '--version'];
      const guess = closestKey(
        arg.replace(/^-+/, ''),
        known.map((k) => k.slice(2)),
      );
      return {
        kind: 'usage',
        message: guess
          ? `unknown option "${arg}" before the verb; did you mean --${guess}?`
          : `unknown option "${arg}" before the verb; run "ip-masq --help"`,
      };
    }
  }
  const verb = argv[i];
  if (verb === undefined) return { kind: 'help', toStderr: !help };
  if (verb === 'help') return { kind: 'help', toStderr: false };
  if (verb === 'version') return { kind: 'version' };
  const used = uses(verb);
  const global = leading.filter((l) => used.includes(l.option)).flatMap((l) => l.args);
  const args = [...global, ...argv.slice(i + 1)];
  if (help) args.push('--help');
  return { kind: 'verb', verb, args };
}

/** `unknown verb "chek"; did you mean check?` */
export function unknownVerbMessage(verb: string, verbs: readonly string[]): string {
  const guess = closestKey(verb, verbs);
  return guess
    ? `unknown verb "${verb}"; did you mean "${guess}"?`
    : `unknown verb "${verb}"; run "ip-masq --help" for the list`;
}
