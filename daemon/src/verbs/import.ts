/** `ip-masq import [FILE|-]`: an ip-masq-agent deployment → config.yaml on stdout. */
import { readFile } from 'node:fs/promises';
import { ExitCode, IpMasqError } from '../errors.js';
import { importAgent, ImportError } from '../migrate/agent-config.js';
import { readAgentInput } from '../migrate/agent-input.js';
import { renderImportedConfig } from '../migrate/render-import.js';
import type { Verb } from './verb.js';

export const importVerb: Verb = {
  name: 'import',
  summary: "convert ip-masq-agent's ConfigMap/DaemonSet (or its config file) into a config.yaml",
  usage: `Usage: ip-masq import [FILE|-]

Reads what an ip-masq-agent deployment is made of and prints an ip-masq config.yaml with the
same meaning on stdout. FILE (default: stdin) is the agent's config body (YAML or JSON), its
ConfigMap manifest, or the output of
  kubectl get cm,ds -n kube-system ip-masq-agent -o yaml
(a List or several YAML documents), whose DaemonSet container args are mapped too
(the agent's flags, written here without their dashes):
  nomasq-all-reserved-ranges → nomasqAllReservedRanges   enable-ipv6 → enableIPv6
  random-fully → randomFully   to-ports → toPorts   masq-chain: noted for cleanup
Everything not carried over is named on stderr. Exits 6 when the agent itself would reject
the input. Typical use:
  kubectl get cm,ds -n kube-system ip-masq-agent -o yaml | ip-masq import > config.yaml
  ip-masq check --config config.yaml`,
  common: [],
  options: {},
  allowPositionals: true,
  async run(ctx) {
    if (ctx.positionals.length > 1)
      throw new IpMasqError('USAGE', 'expects at most one FILE (or - for stdin)');
    const file = ctx.positionals[0] ?? '-';
    const label = file === '-' ? '<stdin>' : file;
    const stdin = ctx.io.stdin;
    if (file === '-' && !stdin)
      throw new IpMasqError('USAGE', 'no standard input here: give a FILE');
    let text: string;
    try {
      text = file === '-' ? await stdin!() : await readFile(file, 'utf8');
    } catch (e) {
      throw new IpMasqError('CONFIG_UNREADABLE', `${label}: cannot read: ${(e as Error).message}`);
    }
    let output: string;
    let notes: string[];
    try {
      const input = readAgentInput(text, label);
      const imported = importAgent(input.bodies, input.commandLines);
      output = renderImportedConfig(imported, label);
      notes = [...input.skipped, ...imported.notCarried];
    } catch (e) {
      if (e instanceof ImportError) throw new IpMasqError('CONFIG_INVALID', e.message);
      throw e;
    }
    for (const n of notes) ctx.io.stderr(`ip-masq import: not carried over: ${n}\n`);
    ctx.io.stdout(output);
    return ExitCode.OK;
  },
};
