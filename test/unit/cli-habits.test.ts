/** Operator habits the CLI follows: options before the verb, did-you-mean, per-verb help. */
import { describe, expect, it } from 'vitest';
import { splitArgv, unknownVerbMessage } from '../../daemon/src/cli-args.js';
import { VERBS } from '../../daemon/src/verbs/index.js';
import { cli } from '../helpers/cli.js';
import { optionsListed } from '../helpers/help-options.js';

describe('splitArgv', () => {
  it('moves common options given before the verb after it', () => {
    expect(splitArgv(['--config', '/x.yaml', 'check', '--json'])).toEqual({
      kind: 'verb',
      verb: 'check',
      args: ['--config', '/x.yaml', '--json'],
    });
    expect(splitArgv(['--nft=/n', '--config=/c', 'apply'])).toEqual({
      kind: 'verb',
      verb: 'apply',
      args: ['--nft=/n', '--config=/c'],
    });
    expect(splitArgv(['-h', 'render'])).toEqual({ kind: 'verb', verb: 'render', args: ['--help'] });
  });

  it('help and version before any verb; usage errors say what is wrong', () => {
    expect(splitArgv([])).toEqual({ kind: 'help', toStderr: true });
    expect(splitArgv(['--help'])).toEqual({ kind: 'help', toStderr: false });
    expect(splitArgv(['--config', '/x', '--version'])).toEqual({ kind: 'version' });
    expect(splitArgv(['--config'])).toMatchObject({ kind: 'usage', message: /needs a value/ });
    expect(splitArgv(['--confg', '/x', 'check'])).toMatchObject({
      kind: 'usage',
      message: /unknown option "--confg" before the verb; did you mean --config\?/,
    });
  });

  it('suggests the verb a typo was meant to be, and nothing for a stranger', () => {
    const names = VERBS.map((v) => v.name);
    expect(unknownVerbMessage('chek', names)).toBe('unknown verb "chek"; did you mean "check"?');
    expect(unknownVerbMessage('aply', names)).toMatch(/did you mean "apply"/);
    expect(unknownVerbMessage('frobnicate', names)).toMatch(/run "ip-masq --help"/);
  });
});

describe('runCli', () => {
  it('accepts --config before the verb', async () => {
    const r = await cli('--config', '/nonexistent/ip-masq/config.yaml', 'render');
    expect(r.stderr).not.toMatch(/unknown verb/);
    expect(r.code).not.toBe(2);
  });

  it('a common option the verb does not use: ignored before the verb, an error after it', () => {
    const uses = (verb: string) => VERBS.find((v) => v.name === verb)?.common ?? [];
    expect(splitArgv(['--config', '/x', '--nft', '/n', 'import'], uses)).toEqual({
      kind: 'verb',
      verb: 'import',
      args: [],
    });
  });

  it('rejects a common option after a verb that does not use it', async () => {
    const r = await cli('import', '--config', '/x');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--config/);
  });

  it('an unknown verb exits 2 with a suggestion', async () => {
    expect(await cli('chek')).toMatchObject({
      code: 2,
      stderr: 'ip-masq: unknown verb "chek"; did you mean "check"?\n',
    });
  });

  it("each verb's help lists exactly the options its parser accepts", async () => {
    for (const verb of VERBS) {
      const help = await cli(verb.name, '--help');
      expect(help.code).toBe(0);
      const accepted = new Set([...verb.common, ...Object.keys(verb.options), 'help']);
      expect([...optionsListed(help.stdout)].sort(), verb.name).toEqual([...accepted].sort());
    }
  });
});
