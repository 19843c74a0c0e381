import { describe, expect, it } from 'vitest';
import { expectedState, liveState, tableDifference } from '../../daemon/src/nft/normalize.js';
import { planToBatch } from '../../daemon/src/nft/to-nft.js';
import type { NftListing } from '../../daemon/src/nft/types.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';
import { makeConfig } from '../helpers/config.js';

/**
 * What `nft -j list table ip ip-masq` prints for a batch nft 1.0.6 applied: handles added,
 * counters filled in, a single nat flag as a string, /32 prefixes as bare addresses.
 * (Shapes taken from real nft 1.0.6 output; the integration tests compare against the kernel.)
 */
function asListedByNft(batch: ReturnType<typeof planToBatch>, family: 'ip' | 'ip6'): NftListing {
  let handle = 1;
  const out: NftListing = [];
  const seen = new Set<string>();
  for (const c of batch.nftables) {
    if (!('add' in c)) continue;
    const obj = JSON.parse(JSON.stringify(c.add)) as Record<string, Record<string, unknown>>;
    const [kind, body] = Object.entries(obj)[0] as [string, Record<string, unknown>];
    if (body.family !== family) continue;
    if (kind === 'table') {
      if (seen.has('table')) continue;
      seen.add('table');
    }
    body.handle = handle++;
    if (kind === 'set' && Array.isArray(body.elem)) {
      body.elem = (body.elem as { prefix: { addr: string; len: number } }[]).map((e) =>
        e.prefix.len === 32 ? e.prefix.addr : e,
      );
    }
    if (kind === 'rule') {
      body.expr = (body.expr as Record<string, unknown>[]).map((e) => {
        if ('counter' in e) return { counter: { packets: 7, bytes: 700 } };
        const m = e.masquerade as { flags?: string[] } | null | undefined;
        if (m?.flags?.length === 1) return { masquerade: { flags: m.flags[0] } };
        return e;
      });
    }
    out.push(obj as unknown as NftListing[number]);
  }
  return out;
}

describe('read-back comparison', () => {
  const config = makeConfig({ nonMasqueradeCIDRs: ['10.0.0.0/8', '203.0.113.9/32'] });
  const plan = buildPlan(config);
  const table = plan.tables[0]!;
  const listed = asListedByNft(planToBatch(plan), 'ip');

  it('treats nft’s read-back shapes (counters, flag strings, bare /32) as equal', () => {
    const live = liveState(listed, 'ip');
    expect(tableDifference(expectedState(table), live)).toBeNull();
    expect(live?.rules.map((r) => r.packets)).toEqual([7, 7, 7, 7]);
  });

  it('catches a masquerade installed without its flag (nft 1.0.6 exits 0 on a misspelt flag)', () => {
    const tampered = structuredClone(listed);
    const last = tampered.at(-1) as { rule: { expr: Record<string, unknown>[] } };
    last.rule.expr[1] = { masquerade: null };
    expect(tableDifference(expectedState(table), liveState(tampered, 'ip'))).toMatch(
      /rule 4 .* differs/,
    );
  });

  it('catches a missing set element, a foreign chain, a missing table and an unwanted one', () => {
    const noElem = structuredClone(listed);
    const set = noElem.find((o) => 'set' in o) as { set: { elem: unknown[] } };
    set.set.elem.pop();
    expect(tableDifference(expectedState(table), liveState(noElem, 'ip'))).toMatch(
      /missing 203\.0\.113\.9\/32/,
    );

    const foreign = [
      ...structuredClone(listed),
      { chain: { family: 'ip', table: 'ip-masq', name: 'sneaky' } },
    ] as NftListing;
    expect(tableDifference(expectedState(table), liveState(foreign, 'ip'))).toMatch(
      /did not create \(chain sneaky\)/,
    );

    expect(tableDifference(expectedState(table), liveState(null, 'ip'))).toBe(
      'table ip ip-masq is missing',
    );
    expect(tableDifference(null, liveState(listed, 'ip6'))).toMatch(/exists but should not/);
    expect(tableDifference(null, null)).toBeNull();
  });

  it('catches a chain at another priority and a flushed chain', () => {
    const prio = structuredClone(listed);
    (prio.find((o) => 'chain' in o) as { chain: { prio: number } }).chain.prio = 100;
    expect(tableDifference(expectedState(table), liveState(prio, 'ip'))).toMatch(
      /wrong type\/hook\/priority/,
    );

    const flushed = listed.filter((o) => !('rule' in o));
    expect(tableDifference(expectedState(table), liveState(flushed, 'ip'))).toMatch(
      /has 0 rules, expected 4/,
    );
  });
});
