/**
 * flanneld's lease file (`/run/flannel/subnet.env`) → the facts ip-masq needs about the pod
 * network: the cluster network C and this node's subnet S per family, and whether flanneld
 * itself masquerades (`FLANNEL_IPMASQ`). Pure: the caller reads the file (see read-facts.ts).
 *
 * A malformed file never throws: every bad line becomes a problem string with its line number
 * and the good lines still count, so one bad value cannot block the rest of the ruleset.
 */
import type { FlannelConfig } from '../config/schema.js';
import { formatCidr, parseCidr, parseIp, type Cidr, type IpFamily } from '../net/cidr.js';

/** One family's pod network: C (cluster) and S (this node's lease, always inside C). */
export interface FlannelNetwork {
  network: Cidr;
  subnet: Cidr;
}

export interface FlannelFacts {
  ipv4?: FlannelNetwork;
  ipv6?: FlannelNetwork;
  /** FLANNEL_IPMASQ (mirrors flanneld's `--ip-masq`); null when unknown. */
  ipMasq: boolean | null;
  /** Where the facts came from, for logs: the file path, "config", or both joined by "+". */
  source: string;
}

/** The raw values of a subnet.env, each parsed on its own. */
export interface SubnetEnv {
  network4?: Cidr;
  subnet4?: Cidr;
  network6?: Cidr;
  subnet6?: Cidr;
  mtu?: number;
  ipMasq?: boolean;
}

const KNOWN_KEYS = new Set([
  'FLANNEL_NETWORK',
  'FLANNEL_SUBNET',
  'FLANNEL_IPV6_NETWORK',
  'FLANNEL_IPV6_SUBNET',
  'FLANNEL_MTU',
  'FLANNEL_IPMASQ',
]);

/** Strips one pair of matching surrounding quotes; shell-style files may quote values. */
function unquote(value: string): string | null {
  const first = value[0];
  if ((first === '"' || first === "'") && value.length >= 2) {
    return value[value.length - 1] === first ? value.slice(1, -1) : null;
  }
  if (first === '"' || first === "'") return null;
  return value;
}

/**
 * A prefix that may carry host bits: flanneld writes FLANNEL_SUBNET as the gateway address of
 * the lease (`10.244.1.1/24`), so the host bits are cleared here rather than reported.
 */
function parsePrefixWithHost(
  text: string,
  family: IpFamily,
): { ok: true; cidr: Cidr } | { ok: false; reason: string } {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (ip === null || slash === -1) {
    const strict = parseCidr(text);
    return strict.ok ? strict : { ok: false, reason: strict.reason };
  }
  if (ip.family !== family) {
    return {
      ok: false,
      reason: `${JSON.stringify(text)} is ${ip.family === 'ipv4' ? 'IPv4' : 'IPv6'}, expected ${family === 'ipv4' ? 'IPv4' : 'IPv6'}`,
    };
  }
  const bits = family === 'ipv4' ? 32 : 128;
  const lenText = text.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
    return {
      ok: false,
      reason: `${JSON.stringify(text)} has an invalid prefix length (expected 0-${bits})`,
    };
  }
  const len = Number(lenText);
  const hostMask = (1n << BigInt(bits - len)) - 1n;
  return { ok: true, cidr: { family, addr: ip.addr & ~hostMask, len } };
}

/**
 * Parses subnet.env text (KEY=VALUE lines; blank lines, `#` comments, an optional `export `
 * prefix and quoted values are tolerated). Unknown keys are ignored: newer flanneld versions
 * may add some. `problems` are `path:line: message` strings.
 */
export function parseSubnetEnv(text: string, path: string): { env: SubnetEnv; problems: string[] } {
  const env: SubnetEnv = {};
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${path}:${i + 1}`;
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('export ')) line = line.slice('export '.length).trim();
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push(`${where}: expected KEY=VALUE, got ${JSON.stringify(raw.trim())}`);
      return;
    }
    const key = line.slice(0, eq).trim();
    if (!KNOWN_KEYS.has(key)) return;
    const value = unquote(line.slice(eq + 1).trim());
    if (value === null) {
      problems.push(
        `${where}: ${key}: unbalanced quotes in ${JSON.stringify(line.slice(eq + 1).trim())}`,
      );
      return;
    }
    const bad = (reason: string): void => void problems.push(`${where}: ${key}: ${reason}`);
    switch (key) {
      case 'FLANNEL_NETWORK':
      case 'FLANNEL_IPV6_NETWORK': {
        const family: IpFamily = key === 'FLANNEL_NETWORK' ? 'ipv4' : 'ipv6';
        const r = parseCidr(value);
        if (!r.ok) return bad(r.reason);
        if (r.cidr.family !== family)
          return bad(
            `${JSON.stringify(value)} is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} prefix`,
          );
        if (family === 'ipv4') env.network4 = r.cidr;
        else env.network6 = r.cidr;
        return;
      }
      case 'FLANNEL_SUBNET':
      case 'FLANNEL_IPV6_SUBNET': {
        const family: IpFamily = key === 'FLANNEL_SUBNET' ? 'ipv4' : 'ipv6';
        const r = parsePrefixWithHost(value, family);
        if (!r.ok) return bad(r.reason);
        if (family === 'ipv4') env.subnet4 = r.cidr;
        else env.subnet6 = r.cidr;
        return;
      }
      case 'FLANNEL_MTU': {
        if (!/^[1-9][0-9]{0,5}$/.test(value))
          return bad(`${JSON.stringify(value)} is not a positive integer`);
        env.mtu = Number(value);
        return;
      }
      case 'FLANNEL_IPMASQ': {
        if (value === 'true') env.ipMasq = true;
        else if (value === 'false') env.ipMasq = false;
        else bad(`${JSON.stringify(value)} is not true or false`);
        return;
      }
    }
  });
  return { env, problems };
}

function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.len < outer.len) return false;
  const bits = outer.family === 'ipv4' ? 32 : 128;
  const hostMask = (1n << BigInt(bits - outer.len)) - 1n;
  return (inner.addr & ~hostMask) === outer.addr;
}

/** The one override of `family` in a config list; extra entries are reported, the first wins. */
function pickOverride(
  list: readonly Cidr[],
  family: IpFamily,
  field: string,
  problems: string[],
): Cidr | undefined {
  const mine = list.filter((c) => c.family === family);
  if (mine.length > 1) {
    problems.push(
      `config: flannel.${field}: ${mine.length} ${family === 'ipv4' ? 'IPv4' : 'IPv6'} prefixes given, using ${formatCidr(mine[0] as Cidr)} (flannel has one per family)`,
    );
  }
  return mine[0];
}

/**
 * Combines the config overrides (`flannel.clusterCIDR` / `flannel.nodeSubnet`, which win) with
 * the lease file. Null facts when neither says anything: there is no flannel on this node as
 * far as we can tell (the caller says so once, at info level). A family is only reported when
 * both C and S are known, because the exclusions need both.
 */
export function resolveFlannelFacts(
  cfg: Pick<FlannelConfig, 'clusterCIDR' | 'nodeSubnet'>,
  envFile: { text: string; path: string } | null,
): { facts: FlannelFacts | null; problems: string[] } {
  const problems: string[] = [];
  const parsed = envFile ? parseSubnetEnv(envFile.text, envFile.path) : null;
  if (parsed) problems.push(...parsed.problems);
  const env = parsed?.env ?? {};
  const hasOverride = cfg.clusterCIDR.length > 0 || cfg.nodeSubnet.length > 0;
  if (!envFile && !hasOverride) return { facts: null, problems };

  const facts: FlannelFacts = {
    ipMasq: env.ipMasq ?? null,
    source: [hasOverride ? 'config' : null, envFile ? envFile.path : null]
      .filter((s) => s !== null)
      .join('+'),
  };
  for (const family of ['ipv4', 'ipv6'] as const) {
    const fromEnvNet = family === 'ipv4' ? env.network4 : env.network6;
    const fromEnvSub = family === 'ipv4' ? env.subnet4 : env.subnet6;
    const network = pickOverride(cfg.clusterCIDR, family, 'clusterCIDR', problems) ?? fromEnvNet;
    const subnet = pickOverride(cfg.nodeSubnet, family, 'nodeSubnet', problems) ?? fromEnvSub;
    const name = family === 'ipv4' ? 'IPv4' : 'IPv6';
    const envNetKey = family === 'ipv4' ? 'FLANNEL_NETWORK' : 'FLANNEL_IPV6_NETWORK';
    const envSubKey = family === 'ipv4' ? 'FLANNEL_SUBNET' : 'FLANNEL_IPV6_SUBNET';
    if (network && !subnet) {
      problems.push(
        `flannel: ${name} cluster network ${formatCidr(network)} is known but not this node's subnet; set ${envSubKey} in subnet.env or flannel.nodeSubnet in the config`,
      );
      continue;
    }
    if (subnet && !network) {
      problems.push(
        `flannel: ${name} node subnet ${formatCidr(subnet)} is known but not the cluster network; set ${envNetKey} in subnet.env or flannel.clusterCIDR in the config`,
      );
      continue;
    }
    if (!network || !subnet) continue;
    if (!contains(network, subnet)) {
      problems.push(
        `flannel: ${name} node subnet ${formatCidr(subnet)} is not inside the cluster network ${formatCidr(network)}; check flannel.clusterCIDR / flannel.nodeSubnet`,
      );
    }
    facts[family] = { network, subnet };
  }
  return { facts, problems };
}
