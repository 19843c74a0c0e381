/**
 * Drop-ins with the real daemon (the built bundle as a child process, `ip-masq run`, in a
 * throwaway network namespace with real nft): config.d/ created after start, files added,
 * edited in place, renamed away and back, a conflicting file (rules kept, both files named),
 * editor temp files, the directory deleted, and a restart with a broken drop-in (the persisted
 * snapshot of all files is enforced). Waits poll the kernel's set; nothing asserts a duration.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns } from '../helpers/netns.js';
import { cli } from '../helpers/cli.js';
import {
  bundleBuilt,
  DaemonSandbox,
  waitFor,
  type DaemonChild,
} from '../reliability/daemon-harness.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();

let sandbox: DaemonSandbox;
let daemon: DaemonChild | null = null;
let dropDir: string;

beforeAll(async () => {
  if (!NETNS) return;
  if (!bundleBuilt()) throw new Error('dist/ip-masq.js is missing: run `make build` first');
  sandbox = await DaemonSandbox.create('dropin');
  dropDir = join(sandbox.configDir, 'config.d');
  sandbox.writeConfig('nonMasqueradeCIDRs: [10.0.0.0/8]\nmasqLinkLocal: false\n');
});

afterAll(async () => {
  if (!NETNS) return;
  await daemon?.stop();
  await sandbox?.dispose();
});

/** Waits until the kernel's nomasq set is exactly `want`. */
async function setIs(want: string[]): Promise<void> {
  await waitFor(
    `nomasq = ${want.join(', ')}`,
    async () => JSON.stringify(await sandbox.nomasq()) === JSON.stringify(want),
  );
}

function writeDropIn(name: string, text: string): string {
  mkdirSync(dropDir, { recursive: true });
  const p = join(dropDir, name);
  writeFileSync(p, text);
  return p;
}

describe.runIf(NETNS)('drop-ins with the real daemon', () => {
  it('starts with config.yaml alone', async () => {
    daemon = await sandbox.start();
    await daemon.ready();
    await setIs(['10.0.0.0/8']);
  });

  it('sees config.d/ created after start and a drop-in added to it', async () => {
    writeDropIn('10-vpc.yaml', 'nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    await setIs(['10.0.0.0/8', '198.51.100.0/24']);
  });

  it('sees a drop-in edited in place and a second one added', async () => {
    writeDropIn('10-vpc.yaml', 'nonMasqueradeCIDRs: [203.0.113.0/24]\n');
    await setIs(['10.0.0.0/8', '203.0.113.0/24']);
    writeDropIn('20-lab.yml', 'nonMasqueradeCIDRs: [192.0.2.0/24]\n');
    await setIs(['10.0.0.0/8', '192.0.2.0/24', '203.0.113.0/24']);
  });

  it('sees a drop-in renamed away (to a name that does not count) and back', async () => {
    renameSync(join(dropDir, '10-vpc.yaml'), join(dropDir, '10-vpc.yaml.disabled'));
    await setIs(['10.0.0.0/8', '192.0.2.0/24']);
    renameSync(join(dropDir, '10-vpc.yaml.disabled'), join(dropDir, '10-vpc.yaml'));
    await setIs(['10.0.0.0/8', '192.0.2.0/24', '203.0.113.0/24']);
  });

  it('ignores editor temp files in config.d/', async () => {
    const mark = daemon!.passesStarted();
    writeDropIn('.10-vpc.yaml.swp', '\u0000binary swap\u0000');
    writeDropIn('10-vpc.yaml~', 'nonMasqueradeCIDRs: [not a cidr]\n');
    await daemon!.settledAfter(mark);
    expect(
      daemon!.lines
        .slice(0)
        .some((l) => typeof l.msg === 'string' && l.msg.startsWith('config invalid')),
    ).toBe(false);
    expect(await sandbox.nomasq()).toEqual(['10.0.0.0/8', '192.0.2.0/24', '203.0.113.0/24']);
  });

  it('a key set in two files keeps the working rules and the log names both files', async () => {
    const from = daemon!.lines.length;
    const conflict = writeDropIn(
      '30-conflict.yaml',
      'masqLinkLocal: true\nnonMasqueradeCIDRs: [172.16.0.0/12]\n',
    );
    const line = await daemon!.waitForLine(
      'config invalid',
      (l) => typeof l.msg === 'string' && l.msg.startsWith('config invalid'),
      from,
    );
    expect(line.msg).toContain(
      `${conflict}:1:1: masqLinkLocal: also set in ${sandbox.configPath}:2:1`,
    );
    expect(await sandbox.nomasq()).toEqual(['10.0.0.0/8', '192.0.2.0/24', '203.0.113.0/24']);
    // `ip-masq check` says the same, naming both files.
    const check = await cli('check', '--config', sandbox.configPath);
    expect(check.code).toBe(6);
    expect(check.stderr).toContain(
      `${conflict}:1:1: masqLinkLocal: also set in ${sandbox.configPath}:2:1`,
    );
    rmSync(conflict);
    await setIs(['10.0.0.0/8', '192.0.2.0/24', '203.0.113.0/24']);
    await daemon!.waitForLine('config valid again', (l) => l.msg === 'config valid again', from);
  });

  it('check --json names the file of each CIDR', async () => {
    const r = await cli('check', '--json', '--config', sandbox.configPath);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      sources: { nonMasqueradeCIDRs: Array<{ cidr: string; file: string; line: number }> };
    };
    expect(json.sources.nonMasqueradeCIDRs).toEqual([
      { cidr: '10.0.0.0/8', file: sandbox.configPath, line: 1 },
      { cidr: '203.0.113.0/24', file: join(dropDir, '10-vpc.yaml'), line: 1 },
      { cidr: '192.0.2.0/24', file: join(dropDir, '20-lab.yml'), line: 1 },
    ]);
  });

  it('a broken drop-in at restart: the persisted snapshot of all files is enforced', async () => {
    await daemon!.stop();
    writeDropIn('20-lab.yml', 'nonMasqueradeCIDRs: [192.0.2.1/24]\n');
    await sandbox.ns.mustExec(['nft', 'delete', 'table', 'ip', 'ip-masq']);
    daemon = await sandbox.start();
    await daemon.ready();
    await setIs(['10.0.0.0/8', '192.0.2.0/24', '203.0.113.0/24']);
    const warned = daemon.find(
      (l) => typeof l.msg === 'string' && l.msg.includes('applying the last good config'),
    );
    expect(warned).toBeDefined();
    writeDropIn('20-lab.yml', 'nonMasqueradeCIDRs: [192.0.2.0/25]\n');
    await setIs(['10.0.0.0/8', '192.0.2.0/25', '203.0.113.0/24']);
  });

  it('sees config.d/ deleted as a whole', async () => {
    rmSync(dropDir, { recursive: true });
    await setIs(['10.0.0.0/8']);
    writeDropIn('10-vpc.yaml', 'nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    await setIs(['10.0.0.0/8', '198.51.100.0/24']);
  });
});
