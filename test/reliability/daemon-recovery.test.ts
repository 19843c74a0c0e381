/**
 * The daemon heals what others break, against the real kernel in a namespace (resyncInterval
 * is 1 h, so everything here is the watcher, the nft monitor, SIGHUP or the backoff retry):
 * external `nft flush ruleset` and table edits, nft unavailable then restored, the config
 * directory deleted and re-created, restarts with an invalid file, READY/STATUS, SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canUseNetns } from '../helpers/netns.js';
import { BUNDLE, bundleBuilt, DaemonSandbox, waitFor, type DaemonChild } from './daemon-harness.js';

const CONFIG_A = 'nonMasqueradeCIDRs: [10.0.0.0/8, 198.18.0.0/15]\nresyncInterval: 1h\n';
const CONFIG_B = 'nonMasqueradeCIDRs: [192.0.2.0/24]\nresyncInterval: 1h\n';
const A = ['10.0.0.0/8', '198.18.0.0/15'];
const B = ['192.0.2.0/24'];
const DEFAULTS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

const same = (a: string[] | null, b: string[]) =>
  a !== null && JSON.stringify(a) === JSON.stringify(b);

describe.runIf(canUseNetns() && bundleBuilt())('daemon recovery', () => {
  let sb: DaemonSandbox;
  let daemon: DaemonChild | null = null;

  beforeEach(async () => {
    sb = await DaemonSandbox.create('recov');
  });
  afterEach(async (ctx) => {
    // A failure here is a timing story: keep the daemon's side of it in the test output.
    if (ctx.task.result?.state === 'fail' && daemon)
      process.stderr.write(
        `the daemon's last log lines:\n${daemon.lines
          .slice(-40)
          .map((l) => JSON.stringify(l))
          .join('\n')}\n`,
      );
    await daemon?.kill();
    daemon = null;
    await sb.dispose();
  });

  async function startWith(text: string): Promise<DaemonChild> {
    sb.writeConfig(text);
    const d = await sb.start();
    await d.ready();
    return d;
  }

  it('sends READY=1 with a STATUS after the first apply, STATUS on changes, STOPPING on SIGTERM, exits 0 and leaves the rules', async () => {
    daemon = await startWith(CONFIG_A);
    await waitFor('READY', () =>
      sb.notifications().some((n) => n.startsWith('READY=1 STATUS=enforcing')),
    );
    const readyLine = sb.notifications().find((n) => n.startsWith('READY=1'))!;
    expect(isStatus(readyLine, `READY=1 STATUS=enforcing ${sb.configPath}, generation 1`)).toBe(
      true,
    );
    sb.writeConfig(CONFIG_B);
    await waitFor('B live', async () => same(await sb.nomasq(), B));
    await waitFor('STATUS generation 2', () =>
      sb
        .notifications()
        .some((n) => isStatus(n, `STATUS=enforcing ${sb.configPath}, generation 2`)),
    );
    const before = await sb.rulesetText();
    expect(await daemon.stop()).toBe(0);
    expect(await sb.rulesetText()).toBe(before);
    expect(sb.notifications().some((n) => n.startsWith('STOPPING=1'))).toBe(true);
    daemon = null;
  });

  /**
   * Breaks the table with each command and waits for the daemon to restore it, with an audit
   * event naming `trigger`.
   */
  async function healsEach(d: DaemonChild, breakers: string[][], trigger: string): Promise<void> {
    for (const argv of breakers) {
      await d.quiet();
      const healthy = await sb.rulesetText();
      const from = d.lines.length;
      await sb.ns.mustExec(argv);
      await waitFor(
        `restored after ${argv.join(' ')}`,
        async () =>
          (await sb.rulesetText()).replace(/"handle": \d+/g, '') ===
          healthy.replace(/"handle": \d+/g, ''),
      );
      const audit = await d.waitForLine(
        'the audit event',
        (l) => l.msg === 'applied ruleset',
        from,
      );
      expect(audit).toMatchObject({ trigger, generation: expect.any(Number) });
      expect(typeof audit.reason).toBe('string');
    }
  }

  it('restores its table at once after an external `nft flush ruleset`, a deleted table and a deleted chain', async () => {
    daemon = await startWith(CONFIG_A);
    await healsEach(
      daemon,
      [
        ['nft', 'flush', 'ruleset'],
        ['nft', 'delete', 'table', 'ip', 'ip-masq'],
        ['nft', 'flush chain ip ip-masq postrouting; delete chain ip ip-masq postrouting'],
      ],
      'drift',
    );
    // Our own applies echo back through the monitor: one more pass, not a loop.
    await daemon.quiet();
    const mark = daemon.passesStarted();
    await new Promise((r) => setTimeout(r, 1000));
    expect(daemon.passesStarted()).toBe(mark);
  });

  it('repairs edits inside its table (a flushed chain, a foreign set element) at the resync, which the monitor does not watch', async () => {
    daemon = await startWith(CONFIG_A.replace('resyncInterval: 1h', 'resyncInterval: 1s'));
    await healsEach(
      daemon,
      [
        ['nft', 'flush', 'chain', 'ip', 'ip-masq', 'postrouting'],
        ['nft', 'add', 'element', 'ip', 'ip-masq', 'nomasq', '{ 203.0.113.0/24 }'],
      ],
      'resync',
    );
  });

  it('nft failing (kernel error, then missing binary): stays up, says why, backs off, recovers by itself', async () => {
    daemon = await startWith(CONFIG_A);
    for (const breakIt of [() => sb.breakNft(), () => sb.removeNft()]) {
      breakIt();
      const from = daemon.lines.length;
      sb.writeConfig(CONFIG_B);
      const failure = await daemon.waitForLine(
        'reconcile failed',
        (l) => typeof l.msg === 'string' && l.msg.startsWith('reconcile failed'),
        from,
      );
      expect(failure.level).toBe(50);
      await waitFor('STATUS says nft is failing', () =>
        sb.notifications().some((n) => n.startsWith('STATUS=nft failing')),
      );
      expect(same(await sb.nomasq(), A)).toBe(true);
      // Someone flushes meanwhile: nothing the daemon can do until nft works again.
      await sb.ns.mustExec(['nft', 'flush', 'ruleset']);
      await new Promise((r) => setTimeout(r, 1500));
      expect(daemon.alive).toBe(true);
      sb.fixNft();
      await waitFor(
        'recovered with the new config',
        async () => same(await sb.nomasq(), B),
        60_000,
      );
      await daemon.waitForLine(
        'nft works again',
        (l) => l.msg === 'nft works again; rules reconciled',
        from,
      );
      sb.writeConfig(CONFIG_A);
      await waitFor('A live again', async () => same(await sb.nomasq(), A));
    }
    expect(daemon.find((l) => l.code === 'NFT_NOT_FOUND')).toBeTruthy();
  });

  it('config directory deleted → defaults (warning); re-created → picked up', async () => {
    daemon = await startWith(CONFIG_A);
    const from = daemon.lines.length;
    rmSync(sb.configDir, { recursive: true });
    await waitFor('defaults live', async () => same(await sb.nomasq(), DEFAULTS));
    const warn = await daemon.waitForLine(
      'absent warning',
      (l) => typeof l.msg === 'string' && l.msg.includes('does not exist; applying the defaults'),
      from,
    );
    expect(warn.level).toBe(40);
    mkdirSync(sb.configDir);
    sb.writeConfig(CONFIG_B);
    await waitFor('B live', async () => same(await sb.nomasq(), B));
    // And once more, the directory being gone for good while we watch its parent.
    rmSync(sb.configDir, { recursive: true });
    await waitFor('defaults live again', async () => same(await sb.nomasq(), DEFAULTS));
    mkdirSync(sb.configDir);
    sb.writeConfig(CONFIG_A);
    await waitFor('A live', async () => same(await sb.nomasq(), A));
  });

  it('SIGHUP runs a pass (a reload) and the daemon survives it', async () => {
    daemon = await startWith(CONFIG_A);
    const from = daemon.lines.length;
    daemon.signal('SIGHUP');
    await daemon.waitForLine('reload', (l) => l.msg === 'reload requested (SIGHUP)', from);
    await daemon.waitForLine(
      'sighup pass',
      (l) => l.msg === 'pass started' && (l.triggers as string[]).includes('sighup'),
      from,
    );
    expect(daemon.alive).toBe(true);
  });

  it('restarted with an invalid file, applies the persisted last good config and says so', async () => {
    daemon = await startWith(CONFIG_B);
    expect(await daemon.stop()).toBe(0);
    sb.writeConfig('nonMasqueradeCIDRs: [10.1.2.3/8]\n');
    await sb.ns.mustExec(['nft', 'flush', 'ruleset']);
    daemon = await sb.start();
    const ready = await daemon.ready();
    expect(ready.status).toMatch(
      /^config invalid: .*config\.yaml:1:22: .*not aligned.*; enforcing the persisted last good config, generation 1(; no \S*subnet\.env yet: .*)?$/,
    );
    expect(same(await sb.nomasq(), B)).toBe(true);
    expect(
      daemon.find(
        (l) =>
          typeof l.msg === 'string' &&
          l.msg.startsWith('config file invalid at start; applying the last good config'),
      ),
    ).toBeTruthy();
    sb.writeConfig(CONFIG_A);
    await waitFor('A live', async () => same(await sb.nomasq(), A));
  });

  it('started with an invalid file and nothing persisted: up, READY says why, nothing applied until the file is valid', async () => {
    sb.writeConfig('masqLinkLocal: yes\n');
    daemon = await sb.start();
    const ready = await daemon.ready();
    expect(ready.status).toMatch(
      /^waiting for a valid config: .*config\.yaml:1:16: masqLinkLocal: expected boolean.*; no rules applied$/,
    );
    expect(await sb.nomasq()).toBeNull();
    sb.writeConfig(CONFIG_A);
    await waitFor('A live', async () => same(await sb.nomasq(), A));
  });

  it('pings WATCHDOG=1 when systemd asks for it (WATCHDOG_USEC)', async () => {
    sb.writeConfig(CONFIG_A);
    daemon = await sb.start({ env: { WATCHDOG_USEC: '200000' } });
    await daemon.ready();
    await waitFor(
      'three watchdog pings',
      () => sb.notifications().filter((n) => n === 'WATCHDOG=1').length >= 3,
    );
  });

  it('restarts a dead nft monitor and still heals drift at once', async () => {
    daemon = await startWith(CONFIG_A);
    const monitorPid = () =>
      spawnSync('ip', ['netns', 'pids', sb.ns.name], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean)
        .find((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
              .split('\0')
              .join(' ')
              .includes('-j monitor');
          } catch {
            return false;
          }
        });
    const first = await waitFor('the monitor child', monitorPid);
    const from = daemon.lines.length;
    process.kill(Number(first), 'SIGKILL');
    const exit = await daemon.waitForLine(
      'monitor exit warning',
      (l) => typeof l.msg === 'string' && l.msg.startsWith('nft monitor exited'),
      from,
    );
    expect(exit.level).toBe(40);
    await daemon.waitForLine('monitor back', (l) => l.msg === 'nft monitor running again', from);
    await daemon.quiet();
    await sb.ns.mustExec(['nft', 'flush', 'ruleset']);
    await waitFor('restored', async () => same(await sb.nomasq(), A));
  });

  it('SIGTERM in the middle of a pass: exits 0 with a complete table (old or new), the restarted daemon converges', async () => {
    daemon = await startWith(CONFIG_A);
    for (const config of [CONFIG_B, CONFIG_A, CONFIG_B, CONFIG_A]) {
      const from = daemon.lines.length;
      sb.writeConfig(config);
      await daemon.waitForLine('a pass after the write', (l) => l.msg === 'pass started', from);
      expect(await daemon.stop()).toBe(0);
      const live = await sb.nomasq();
      expect(
        same(live, A) || same(live, B),
        `after SIGTERM mid-pass: ${JSON.stringify(live)}`,
      ).toBe(true);
      daemon = await sb.start();
      await daemon.ready();
      await waitFor('converged', async () => same(await sb.nomasq(), config === CONFIG_B ? B : A));
    }
  });

  it('under journald (JOURNAL_STREAM matches stdout) every line carries its syslog priority', async () => {
    sb.writeConfig(CONFIG_A);
    const out = join(sb.root, 'journal.out');
    const fd = openSync(out, 'w');
    const st = fstatSync(fd, { bigint: true });
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        sb.ns.name,
        process.execPath,
        BUNDLE,
        'run',
        '--config',
        sb.configPath,
        '--state-dir',
        sb.stateDir,
        '--nft',
        sb.nftWrapper,
      ],
      {
        stdio: ['ignore', fd, 'pipe'],
        env: { PATH: process.env.PATH, JOURNAL_STREAM: `${st.dev}:${st.ino}` },
      },
    );
    closeSync(fd);
    const exited = new Promise((r) => child.once('exit', r));
    const lines = () => readFileSync(out, 'utf8').split('\n').filter(Boolean);
    try {
      await waitFor('ready', () => lines().some((l) => l.includes('"msg":"ready"')));
      sb.writeConfig('masqLinkLocal: "no"\n');
      await waitFor('config error', () => lines().some((l) => l.includes('config invalid')));
      rmSync(sb.configPath);
      await waitFor('absent warning', () => lines().some((l) => l.includes('does not exist')));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const all = lines();
    expect(
      all.every((l) => /^<[2-7]>\{/.test(l)),
      all.join('\n'),
    ).toBe(true);
    expect(all.find((l) => l.includes('"msg":"applied ruleset"'))).toMatch(/^<6>/);
    expect(all.find((l) => l.includes('config invalid'))).toMatch(/^<3>/);
    expect(all.find((l) => l.includes('does not exist'))).toMatch(/^<4>/);
    expect(JSON.parse(all[0]!.slice(3))).not.toHaveProperty('pid');
  });

  it('idle, it does nothing but wait', async () => {
    daemon = await startWith(CONFIG_A);
    await daemon.quiet();
    const lines = daemon.lines.length;
    await new Promise((r) => setTimeout(r, 2000));
    expect(daemon.lines.slice(lines)).toEqual([]);
  });
});

/**
 * A STATUS line as expected, allowing the note the daemon appends while flannel's subnet.env
 * is missing (this sandbox has no flannel, and the host may or may not have one).
 */
function isStatus(line: string, expected: string): boolean {
  const rest = line.startsWith(expected) ? line.slice(expected.length) : null;
  return rest !== null && /^(; no \S*subnet\.env yet: .*)?$/.test(rest);
}
