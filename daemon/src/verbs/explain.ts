import { networkInterfaces } from 'node:os';
import { ExitCode, IpMasqError } from '../errors.js';
import { formatIp, parseIp } from '../net/cidr.js';
import { flannelHooks } from '../reconcile/flannel-hooks.js';
import { parseInterfaceName } from '../config/policy-values.js';
import { explainPacket } from '../plan/explain.js';
import { explainKeys } from '../plan/explain-keys.js';
import { buildPlan } from '../plan/plan.js';
import { loadConfig } from './common.js';
import { policySources } from './policy-sources.js';
import type { Verb } from './verb.js';

/** Addresses of this network namespace: the answer `fib daddr type local` would give. */
function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const ip = parseIp(a.address.split('%')[0] ?? '');
      if (ip) out.add(formatIp(ip.family, ip.addr));
    }
  }
  return out;
}

function parseAddress(text: string, what: string) {
  const ip = parseIp(text);
  if (!ip) throw new IpMasqError('USAGE', `${what} "${text}" is not an IP address`);
  return ip;
}

export const explain: Verb = {
  name: 'explain',
  summary: 'would a packet to <dst-ip> be masqueraded? prints the deciding rule',
  usage: `Usage: ip-masq explain <dst-ip> [--src IP] [--oif NAME] [--proto PROTO] [--config PATH] [--json]

Evaluates ip-masq's rules for a packet leaving this node and prints "masquerade" or
"keep source" with the rule that decides, then what each key decides and the entry (file:line)
that decides it. Uses the config and flannel's subnet.env; does not need root. A destination
that is an address of this host is always "keep source".

  --src IP        the packet's source (a pod IP); needed for the pod-to-pod rule and sourceCIDRs
  --oif NAME      the interface the packet leaves through; needed for outputInterfaces
  --proto PROTO  tcp, udp, sctp, icmp, … (with toPorts: which source ports it may get;
                 default: any protocol, showing the toPorts split)
  --json         machine-readable output`,
  common: ['config'],
  options: {
    src: { type: 'string' },
    oif: { type: 'string' },
    proto: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run(ctx) {
    if (ctx.positionals.length !== 1)
      throw new IpMasqError(
        'USAGE',
        'expects exactly one destination address, e.g. ip-masq explain 203.0.113.7',
      );
    const dst = parseAddress(ctx.positionals[0] as string, 'destination');
    const src = typeof ctx.values.src === 'string' ? parseAddress(ctx.values.src, '--src') : null;
    if (src && src.family !== dst.family)
      throw new IpMasqError('USAGE', '--src and the destination must be the same address family');

    let oif: string | undefined;
    if (typeof ctx.values.oif === 'string') {
      const name = parseInterfaceName(ctx.values.oif);
      if (!name.ok) throw new IpMasqError('USAGE', `--oif ${name.reason}`);
      if (name.value.endsWith('*'))
        throw new IpMasqError('USAGE', `--oif takes one interface name, not a wildcard`);
      oif = name.value;
    }
    const loaded = await loadConfig(ctx);
    const { config } = loaded;
    const { facts } = await flannelHooks().facts(config);
    const plan = buildPlan(config, facts);
    const dstText = formatIp(dst.family, dst.addr);
    const proto = typeof ctx.values.proto === 'string' ? ctx.values.proto.toLowerCase() : undefined;
    if (proto !== undefined && !/^[a-z][a-z0-9-]*$/.test(proto))
      throw new IpMasqError(
        'USAGE',
        `--proto "${ctx.values.proto}" is not a protocol name such as tcp, udp, sctp or icmp`,
      );
    const packet = {
      family: dst.family,
      dst: dst.addr,
      src: src?.addr ?? null,
      dstIsLocal: localAddresses().has(dstText),
      ...(proto !== undefined ? { protocol: proto } : {}),
      ...(oif !== undefined ? { oif } : {}),
    };
    const result = explainPacket(plan, packet);
    const keys = explainKeys(config, policySources(loaded), packet);

    if (ctx.values.json) {
      ctx.io.stdout(
        `${JSON.stringify({ destination: dstText, source: src ? formatIp(src.family, src.addr) : null, oif: oif ?? null, ...result, keys })}\n`,
      );
    } else {
      ctx.io.stdout(`${dstText}: ${result.decision}\n`);
      if (result.rule)
        ctx.io.stdout(
          `  rule ${result.rule.position}: ${result.rule.text}   # ${result.rule.comment}\n`,
        );
      if (result.note) ctx.io.stdout(`  ${result.note}\n`);
      for (const k of keys) ctx.io.stdout(`  ${k.key}: ${k.text}\n`);
    }
    return ExitCode.OK;
  },
};
