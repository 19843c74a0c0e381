/**
 * Imported settings → the text of an ip-masq config.yaml, each key with a comment saying where
 * it came from, so the operator reviewing the file can trace every line back to the agent.
 */
import type { Imported, ImportedSettings } from './agent-config.js';

/** A YAML scalar: plain when unambiguous, else a JSON string (which YAML reads the same). */
function scalar(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  return /^[0-9A-Za-z][0-9A-Za-z./_-]*$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v)
    ? v
    : JSON.stringify(v);
}

const ORDER: Array<keyof ImportedSettings> = [
  'nonMasqueradeCIDRs',
  'nomasqAllReservedRanges',
  'masqLinkLocal',
  'masqLinkLocalIPv6',
  'enableIPv6',
  'randomFully',
  'toPorts',
  'resyncInterval',
  'cidrLimit',
];

export function renderImportedConfig(imported: Imported, inputLabel: string): string {
  const lines = [
    `# /etc/ip-masq/config.yaml, imported by "ip-masq import" from ${inputLabel}.`,
    '# Keys not listed keep their defaults, as they did for ip-masq-agent.',
    `# After ip-masq runs: delete the ip-masq-agent DaemonSet, then its nat chain ${imported.chain}`,
    '# and the POSTROUTING jump to it ("ip-masq doctor" prints the exact commands).',
  ];
  const { settings, origins } = imported;
  for (const key of ORDER) {
    const v = settings[key];
    if (v === undefined) continue;
    lines.push(`# from ${origins[key] ?? inputLabel}`);
    if (Array.isArray(v)) {
      if (v.length === 0) lines.push(`${key}: []`);
      else lines.push(`${key}:`, ...v.map((c) => `  - ${scalar(c)}`));
    } else {
      lines.push(`${key}: ${scalar(v)}`);
    }
  }
  if (ORDER.every((k) => settings[k] === undefined))
    lines.push("# (nothing set: ip-masq-agent's defaults, which are ip-masq's)");
  return `${lines.join('\n')}\n`;
}
