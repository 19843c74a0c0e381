/** Cross-key checks of the policy keys: each issue at the value to change, naming both places. */
import { describe, expect, it } from 'vitest';
import { policyIssues, type PolicyCheckInput } from '../../daemon/src/config/policy-checks.js';
import { cidr, makeConfig } from '../helpers/config.js';

const place = (line: number, col = 5) => ({ file: 'config.d/b.yaml', line, col });

function input(overrides: Partial<PolicyCheckInput>): PolicyCheckInput {
  return {
    config: makeConfig(),
    nonMasquerade: [],
    masquerade: [],
    sourceCIDRsAt: null,
    snatAddressIPv6At: null,
    ...overrides,
  };
}

describe('policyIssues', () => {
  it('refuses the same prefix in both lists, naming both places', () => {
    const issues = policyIssues(
      input({
        nonMasquerade: [{ cidr: cidr('10.1.0.0/16'), place: { file: 'config.yaml', line: 4 } }],
        masquerade: [
          { cidr: cidr('10.1.0.0/16'), path: 'masqueradeCIDRs[0]', place: place(2) },
          { cidr: cidr('10.1.2.0/24'), path: 'masqueradeCIDRs[1]', place: place(3) },
        ],
      }),
    );
    expect(issues).toEqual([
      {
        file: 'config.d/b.yaml',
        line: 2,
        col: 5,
        path: 'masqueradeCIDRs[0]',
        message:
          '10.1.0.0/16 is also in nonMasqueradeCIDRs at config.yaml:4; the same prefix cannot be in both lists (neither is longer): remove one of them',
      },
    ]);
  });

  it('names the default list, and the implicit link-local entries', () => {
    const issues = policyIssues(
      input({
        config: makeConfig({ enableIPv6: true }),
        nonMasquerade: [{ cidr: cidr('10.0.0.0/8'), place: null }],
        masquerade: [
          { cidr: cidr('10.0.0.0/8'), path: 'masqueradeCIDRs[0]', place: place(2) },
          { cidr: cidr('169.254.0.0/16'), path: 'masqueradeCIDRs[1]', place: place(3) },
          { cidr: cidr('fe80::/10'), path: 'masqueradeCIDRs[2]', place: place(4) },
        ],
      }),
    ).map((i) => i.message);
    expect(issues[0]).toMatch(/also in the default nonMasqueradeCIDRs \(no file sets the list\)/);
    expect(issues[1]).toMatch(/implicit link-local entry .*set masqLinkLocal: true instead/);
    expect(issues[2]).toMatch(/fe80::\/10 .*set masqLinkLocalIPv6: true instead/);
    // With masqLinkLocal, 169.254.0.0/16 is an ordinary (if useless) masqueradeCIDRs entry.
    expect(
      policyIssues(
        input({
          config: makeConfig({ masqLinkLocal: true }),
          masquerade: [{ cidr: cidr('169.254.0.0/16'), path: 'm', place: place(2) }],
        }),
      ),
    ).toEqual([]);
  });

  it('snatAddressIPv6 needs enableIPv6; sourceCIDRs must cover every managed family', () => {
    const at = place(7, 18);
    expect(
      policyIssues(
        input({ config: makeConfig({ snatAddressIPv6: '2001:db8::9' }), snatAddressIPv6At: at }),
      ),
    ).toMatchObject([
      {
        line: 7,
        col: 18,
        path: 'snatAddressIPv6',
        message: expect.stringMatching(/set enableIPv6: true/),
      },
    ]);
    const v6only = makeConfig({ sourceCIDRs: [cidr('fd00::/8')], enableIPv6: true });
    expect(policyIssues(input({ config: v6only, sourceCIDRsAt: at }))[0]?.message).toMatch(
      /no IPv4 entry/,
    );
    const v4only = makeConfig({ sourceCIDRs: [cidr('10.244.0.0/16')], enableIPv6: true });
    expect(policyIssues(input({ config: v4only, sourceCIDRsAt: at }))[0]?.message).toMatch(
      /no IPv6 entry while enableIPv6 is true.*set enableIPv6: false/,
    );
    const ok = makeConfig({ sourceCIDRs: [cidr('10.244.0.0/16')] });
    expect(policyIssues(input({ config: ok, sourceCIDRsAt: at }))).toEqual([]);
  });
});
