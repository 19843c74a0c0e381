/**
 * ≥ 40 malformed or hostile config files in turn, each replacing the previous one while the
 * daemon runs (without CAP_DAC_OVERRIDE, so a mode-000 file is really unreadable): after each,
 * the daemon has noticed the file is invalid, `nft -j list ruleset` is byte-identical to the
 * ruleset of the last good config (counters zeroed), and the daemon is alive. Then a valid file
 * is applied again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns } from '../helpers/netns.js';
import { bundleBuilt, DaemonSandbox, waitFor, type DaemonChild } from './daemon-harness.js';
import { HOSTILE_CONFIGS } from './hostile-configs.js';

const GOOD = 'nonMasqueradeCIDRs: [10.0.0.0/8, 198.18.0.0/15]\nresyncInterval: 1h\n';

describe.runIf(canUseNetns() && bundleBuilt())('daemon vs hostile config files', () => {
  let sb: DaemonSandbox;
  let daemon: DaemonChild;
  let baseline: string;

  beforeAll(async () => {
    sb = await DaemonSandbox.create('hostil');
    sb.writeConfig(GOOD);
    daemon = await sb.start({ capNetAdminOnly: true });
    await daemon.ready();
    await daemon.settledAfter(0);
    baseline = await sb.rulesetText();
    expect(await sb.nomasq()).toEqual(['10.0.0.0/8', '198.18.0.0/15']);
  });

  afterAll(async () => {
    await daemon?.kill();
    await sb?.dispose();
  });

  it('has at least 40 cases', () => {
    expect(HOSTILE_CONFIGS.length).toBeGreaterThanOrEqual(40);
  });

  for (const hostile of HOSTILE_CONFIGS) {
    it(`keeps the rules byte-identical: ${hostile.name}`, async () => {
      const mark = daemon.passesStarted();
      hostile.make(sb.configPath);
      const done = await daemon.settledAfter(mark);
      expect(done.configProblem, 'the daemon must have rejected the file').toBeTruthy();
      expect(await sb.rulesetText()).toBe(baseline);
      expect(daemon.alive).toBe(true);
    });
  }

  it('logged every rejection at error level with the file and a located reason', () => {
    const errors = daemon.lines.filter(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('config invalid'),
    );
    expect(errors.length).toBeGreaterThan(30);
    for (const e of errors) {
      expect(e.level).toBe(50);
      expect((e.issues as string[])[0]).toContain(sb.configPath);
    }
    expect(errors.some((e) => /config\.yaml:\d+:\d+: /.test((e.issues as string[])[0]!))).toBe(
      true,
    );
  });

  it('applies the next valid file and then persists it', async () => {
    sb.writeConfig('nonMasqueradeCIDRs: [192.0.2.0/24]\nresyncInterval: 1h\n');
    // The write (temp file, then rename) may start a pass that still reads the last hostile
    // file; wait for the new file's rules, then for the pass that applied them to be the last.
    await waitFor('the valid file applied', async () =>
      JSON.stringify(await sb.nomasq()) === JSON.stringify(['192.0.2.0/24']) ? true : undefined,
    );
    const done = await daemon.settledAfter(daemon.passesStarted() - 1);
    expect(done.configProblem).toBeNull();
    expect(await sb.nomasq()).toEqual(['192.0.2.0/24']);
    expect(await daemon.stop()).toBe(0);
  });
});
