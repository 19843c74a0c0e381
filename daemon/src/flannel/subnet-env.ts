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
import { implausibility } from '../plan/pod-bounds.js';

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
  /**
   * Families whose facts were rejected (unreadable, malformed, incomplete or implausible), with
   * the reason naming the line. For these no pod-network rule is built and no flannel rule is
   * deleted: the status quo stays until the facts are fixed.
   */
  rejected?: Partial<Record<IpFamily, string>>;
}

/** The raw values of a subnet.env, each parsed on its own. */
export interface SubnetEnv {
  network4?: Cidr;
  subnet4?: Cidr;
  network6?: Cidr;
  subnet6?: Cidr;
  mtu?: number;
  ipMasq?: boolean;
  /** Where each key was read (`path:line: KEY=value`), for messages. */
  where?: Partial<Record<string, string>>;
  /** Keys whose line was malformed, with the problem. */
  invalid?: Partial<Record<string, string>>;
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
  const where: Partial<Record<string, string>> = {};
  const invalid: Partial<Record<string, string>> = {};
  const env: SubnetEnv = { where, invalid };
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const at = `${path}:${i + 1}`;
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('export ')) line = line.slice('export '.length).trim();
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push(`${at}: expected KEY=VALUE, got ${JSON.stringify(raw.trim())}`);
      return;
    }
    const key = line.slice(0, eq).trim();
    if (!KNOWN_KEYS.has(key)) return;
    where[key] = `${at}: ${key}=${line.slice(eq + 1).trim()}`;
    delete invalid[key];
    const bad = (reason: string): void => {
      const problem = `${at}: ${key}: ${reason}`;
      invalid[key] = problem;
      problems.push(problem);
    };
    const value = unquote(line.slice(eq + 1).trim());
    if (value === null) {
      bad(`unbalanced quotes in ${JSON.stringify(line.slice(eq + 1).trim())}`);
      return;
    }
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
 * both C and S are known and plausible (plan/pod-bounds.ts); a family with a malformed line, only one
 * of C and S, or implausible values is in `facts.rejected` instead, with the reason.
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
  const rejected: Partial<Record<IpFamily, string>> = {};
  for (const family of ['ipv4', 'ipv6'] as const) {
    const fromEnvNet = family === 'ipv4' ? env.network4 : env.network6;
    const fromEnvSub = family === 'ipv4' ? env.subnet4 : env.subnet6;
    const netOverride = pickOverride(cfg.clusterCIDR, family, 'clusterCIDR', problems);
    const subOverride = pickOverride(cfg.nodeSubnet, family, 'nodeSubnet', problems);
    const network = netOverride ?? fromEnvNet;
    const subnet = subOverride ?? fromEnvSub;
    const name = family === 'ipv4' ? 'IPv4' : 'IPv6';
    const envNetKey = family === 'ipv4' ? 'FLANNEL_NETWORK' : 'FLANNEL_IPV6_NETWORK';
    const envSubKey = family === 'ipv4' ? 'FLANNEL_SUBNET' : 'FLANNEL_IPV6_SUBNET';
    // A malformed line of this family that no override replaces: its facts are unknown.
    const malformed = [
      netOverride ? undefined : env.invalid?.[envNetKey],
      subOverride ? undefined : env.invalid?.[envSubKey],
    ].find((p) => p !== undefined);
    if (malformed) {
      rejected[family] = malformed;
      continue;
    }
    if (network && !subnet) {
      rejected[family] =
        `flannel: ${name} cluster network ${formatCidr(network)} is known but not this node's subnet; set ${envSubKey} in subnet.env or flannel.nodeSubnet in the config`;
      continue;
    }
    if (subnet && !network) {
      rejected[family] =
        `flannel: ${name} node subnet ${formatCidr(subnet)} is known but not the cluster network; set ${envNetKey} in subnet.env or flannel.clusterCIDR in the config`;
      continue;
    }
    if (!network || !subnet) continue;
    const why = implausibility(
      family,
      network,
      subnet,
      netOverride
        ? `config: flannel.clusterCIDR ${formatCidr(netOverride)}`
        : (env.where?.[envNetKey] ?? envNetKey),
      subOverride
        ? `config: flannel.nodeSubnet ${formatCidr(subOverride)}`
        : (env.where?.[envSubKey] ?? envSubKey),
    );
    if (why !== null) {
      rejected[family] = why;
      continue;
    }
    facts[family] = { network, subnet };
  }
  if (Object.keys(rejected).length > 0) facts.rejected = rejected;
  return { facts, problems };
}
