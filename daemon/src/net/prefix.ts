/**
 * The address and prefix types every CIDR module shares, and the bit tables behind them. Pure.
 */

export type IpFamily = 'ipv4' | 'ipv6';

/** An aligned prefix: `addr` has no bits set beyond `len`. */
export interface Cidr {
  readonly family: IpFamily;
  readonly addr: bigint;
  readonly len: number;
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** Address width of a family in bits. */
export function familyBits(f: IpFamily): 32 | 128 {
  return f === 'ipv4' ? 32 : 128;
}

/** V4_BLOCK_SIZES[len] = 2^(32-len): a table, because `2 ** n` with a variable n is slow. */
export const V4_BLOCK_SIZES: readonly number[] = Array.from(
  { length: 33 },
  (_, len) => 2 ** (32 - len),
);

const HOST_MASKS: Record<IpFamily, bigint[]> = { ipv4: hostMasks(32), ipv6: hostMasks(128) };

/** HOST_MASKS[f][len] = the bits below a /len prefix. */
function hostMasks(bits: number): bigint[] {
  const masks: bigint[] = [];
  for (let len = 0; len <= bits; len++) masks.push((1n << BigInt(bits - len)) - 1n);
  return masks;
}

export function hostMask(family: IpFamily, len: number): bigint {
  return HOST_MASKS[family][len] as bigint;
}
