/** `render --format nft`: the text form of the plan, and the option's usage errors. */
import { describe, expect, it } from 'vitest';
import { planToText } from '../../daemon/src/nft/to-text.js';
import { buildPlan } from '../../daemon/src/plan/plan.js';
import { cli } from '../helpers/cli.js';
import { makeConfig } from '../helpers/config.js';

describe('planToText', () => {
  it('removes both tables first, then defines the planned ones as nft list shows them', () => {
    const text = planToText(buildPlan(makeConfig({ nonMasqueradeCIDRs: ['198.51.100.0/24'] })));
    expect(text.split('\n').slice(2, 6)).toEqual([
      'table ip ip-masq',
      'delete table ip ip-masq',
      'table ip6 ip-masq',
      'delete table ip6 ip-masq',
    ]);
    expect(text).toContain('\t\telements = { 198.51.100.0/24 }\n');
    expect(text).toContain('type nat hook postrouting priority srcnat + 10; policy accept;');
    expect(text).toContain(
      '\t\tip daddr @nomasq counter return comment "ip-masq: nonMasqueradeCIDRs are not subject to MASQUERADE"\n',
    );
    expect(text).not.toMatch(/^table ip6 ip-masq \{/m);
  });

  it('wraps a long element list and defines the ip6 table when IPv6 is on', () => {
    const cidrs = Array.from({ length: 9 }, (_, i) => `198.18.${i * 2}.0/24`);
    const text = planToText(
      buildPlan(makeConfig({ nonMasqueradeCIDRs: [...cidrs, 'fd00::/8'], enableIPv6: true })),
    );
    const elements = /elements = \{ ([^}]*) \}/.exec(text)?.[1] ?? '';
    expect(elements.split('\n')).toHaveLength(3);
    expect(elements.split(/,\s*/)).toHaveLength(9);
    expect(text).toMatch(/^table ip6 ip-masq \{/m);
    expect(text).toContain('elements = { fd00::/8 }');
  });
});

describe('render --format', () => {
  it('rejects an unknown format and --compact with nft', async () => {
    expect(await cli('render', '--format', 'yaml')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--format must be json or nft, not "yaml"/),
    });
    expect((await cli('render', '--format', 'nft', '--compact')).code).toBe(2);
  });
});
