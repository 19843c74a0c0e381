/**
 * Values of the policy keys whose syntax is not YAML's: `outputInterfaces` names and the
 * `snatAddress`/`snatAddressIPv6` addresses. Pure; each returns a reason worded for the operator
 * (the problem and the fix) instead of throwing.
 */
import { familyBits, formatIp, parseCidr, parseIp, type IpFamily } from '../net/cidr.js';

/** IFNAMSIZ is 16 with the terminating NUL. */
const MAX_IFNAME = 15;

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * An interface name as nft's `oifname` matches it: 1–15 characters, no '/', no whitespace
 * (the kernel refuses those in names), and '*' only at the end, where nft reads it as "any
 * name starting with". A lone "*" would match every interface: that is no outputInterfaces.
 */
export function parseInterfaceName(text: string): Parsed<string> {
  const q = JSON.stringify(text);
  const fail = (why: string): Parsed<string> => ({ ok: false, reason: `${q} ${why}` });
  if (text.length === 0) return fail('is empty; write an interface name such as eth0 or "eth*"');
  if (text.length > MAX_IFNAME)
    return fail(
      `is ${text.length} characters long; Linux interface names have at most ${MAX_IFNAME}`,
    );
  if (/\s/.test(text)) return fail('contains whitespace; interface names cannot');
  if (text.includes('/')) return fail("contains '/'; interface names cannot");
  const star = text.indexOf('*');
  if (star !== -1 && star !== text.length - 1)
    return fail(`has '*' inside the name; '*' is a wildcard only at the end, e.g. "eth*"`);
  if (text === '*')
    return fail('matches every interface; leave outputInterfaces out to masquerade on all of them');
  if (text.includes('\\') || text.includes('"'))
    return fail('contains a quote or a backslash; interface names cannot');
  return { ok: true, value: text };
}

/**
 * One address of `family` (not a prefix), canonical. `key` names the setting in the fix.
 */
export function parseSnatAddress(text: string, family: IpFamily): Parsed<string> {
  const q = JSON.stringify(text);
  const want = family === 'ipv4' ? 'IPv4' : 'IPv6';
  const example = family === 'ipv4' ? '192.0.2.9' : '2001:db8::9';
  const other = family === 'ipv4' ? 'snatAddressIPv6' : 'snatAddress';
  const ip = parseIp(text);
  if (ip === null) {
    const prefix = parseCidr(text);
    if (prefix.ok && prefix.cidr.len === familyBits(prefix.cidr.family))
      return {
        ok: false,
        reason: `${q} is a prefix; write the address alone: ${formatIp(prefix.cidr.family, prefix.cidr.addr)}`,
      };
    if (prefix.ok || text.includes('/'))
      return {
        ok: false,
        reason: `${q} is a prefix, not an address; write one ${want} address of this node, e.g. ${example}`,
      };
    return {
      ok: false,
      reason: `${q} is not an ${want} address; write one address of this node, e.g. ${example}`,
    };
  }
  if (ip.family !== family)
    return {
      ok: false,
      reason: `${q} is an ${ip.family === 'ipv4' ? 'IPv4' : 'IPv6'} address; this key takes ${want}: move it to ${other}`,
    };
  return { ok: true, value: formatIp(ip.family, ip.addr) };
}
