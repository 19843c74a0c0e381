/**
 * `ip-masq import` on what an operator actually has: manifests as kubectl prints them
 * (test/fixtures/agent/), bare config bodies in YAML and JSON. Every output is loaded back
 * with the real config loader (what `check` runs) and compared with what the agent enforced.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigTree } from '../../daemon/src/config/tree.js';
import { runCli } from '../../daemon/src/cli.js';
import { cli, tempDir } from '../helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'agent');

async function importText(text: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['import', '-'], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: {},
    stdin: async () => text,
  });
  return { code, stdout, stderr };
}

/** Writes the imported config.yaml and loads it as `check` does. */
async function loadImported(stdout: string) {
  const path = join(tempDir('import'), 'config.yaml');
  writeFileSync(path, stdout);
  return (await loadConfigTree(path)).config;
}

describe('ip-masq import', () => {
  it('converts `kubectl get cm,ds -o yaml` (a List) with the DaemonSet flags', async () => {
    const r = await cli('import', join(FIXTURES, 'kubectl-get-cm-ds.list.yaml'));
    expect(r.code).toBe(0);
    const c = await loadImported(r.stdout);
    expect(c.nonMasqueradeCIDRs).toEqual([
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '100.64.0.0/10',
    ]);
    expect(c.nomasqAllReservedRanges).toBe(true);
    expect(c.masqLinkLocal).toBe(false);
    expect(c.resyncIntervalMs).toBe(60_000);
    expect(c.randomFully).toBe(true);
    expect(c.enableIPv6).toBe(false);
    // The custom chain is named for cleanup, in the file and on stderr.
    expect(r.stdout).toMatch(/nat chain IP-MASQ\b/);
    expect(r.stderr).toMatch(/--masq-chain=IP-MASQ .*delete the agent's chain IP-MASQ/);
    expect(r.stderr).toMatch(/--v=2 \(klog logging/);
    expect(r.stderr).toMatch(/nodeSelector/);
    // Every stderr line says it is something not carried over.
    for (const line of r.stderr.trimEnd().split('\n'))
      expect(line).toMatch(/^ip-masq import: not carried over: /);
  });

  it('converts multi-document YAML with a JSON config body, IPv6 and --to-ports', async () => {
    const r = await cli('import', join(FIXTURES, 'kubectl-get-cm-ds.multidoc.yaml'));
    expect(r.code).toBe(0);
    const c = await loadImported(r.stdout);
    expect(c.nonMasqueradeCIDRs).toEqual(['10.0.0.0/8', 'fd00:10::/64']);
    expect(c.enableIPv6).toBe(true);
    expect(c.masqLinkLocalIPv6).toBe(true);
    expect(c.randomFully).toBe(false);
    expect(c.toPorts).toEqual([
      { first: 1024, last: 29999 },
      { first: 32768, last: 65535 },
    ]);
    expect(c.resyncInterval).toBe('1m30s');
    expect(r.stderr).toMatch(/--logtostderr/);
    expect(r.stdout).toMatch(/nat chain IP-MASQ-AGENT\b/);
  });

  it('converts a ConfigMap manifest read from stdin (YAML 1.1 "yes" is true, as for the agent)', async () => {
    const r = await importText(readFileSync(join(FIXTURES, 'configmap.yaml'), 'utf8'));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const c = await loadImported(r.stdout);
    expect(c.nonMasqueradeCIDRs).toEqual(['10.0.0.0/8']);
    expect(c.masqLinkLocal).toBe(true);
    expect(r.stdout).toContain('# from ConfigMap kube-system/ip-masq-agent data.config');
  });

  it('converts a bare config body, YAML or JSON, keeping absent keys absent', async () => {
    const yaml = await importText('masqLinkLocal: on\nNonMasqueradeCIDRs: [192.168.0.0/16]\n');
    expect(yaml.code).toBe(0);
    const c = await loadImported(yaml.stdout);
    expect(c.nonMasqueradeCIDRs).toEqual(['192.168.0.0/16']);
    expect(c.masqLinkLocal).toBe(true);
    expect(yaml.stdout).not.toMatch(/resyncInterval|cidrLimit/);

    const json = await importText('{"nonMasqueradeCIDRs": null, "cidrLimit": 10, "foo": 1}');
    expect(json.code).toBe(0);
    const j = await loadImported(json.stdout);
    // null is an empty list for the agent (Go nil slice): everything is masqueraded.
    expect(j.nonMasqueradeCIDRs).toEqual([]);
    expect(j.cidrLimit).toBe(10);
    expect(json.stderr).toMatch(/key "foo" \(the agent ignores unknown keys\)/);
  });

  it('an empty input is the defaults', async () => {
    const r = await importText('');
    expect(r.code).toBe(0);
    const c = await loadImported(r.stdout);
    expect(c.nonMasqueradeCIDRs).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);
  });

  it('refuses what the agent itself rejects, with the place and the fix', async () => {
    const r = await importText('masqLinkLocal: "true"\n');
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/masqLinkLocal: "true" is not true or false; the agent rejects/);
    const n = await importText('resyncInterval: 60\n');
    expect(n.code).toBe(6);
    expect(n.stderr).toMatch(/resyncInterval: 60 is not a Go duration/);
    const f = await importText('{"nonMasqueradeCIDRs": [1,]}');
    expect(f.code).toBe(6);
    expect(f.stderr).toMatch(/not valid JSON/);
  });

  it('merges several ip-masq* keys the way ip-masq-agent-v2 does', async () => {
    const cm = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata: {name: azure-ip-masq-agent-config, namespace: kube-system}',
      'data:',
      '  ip-masq-agent: |',
      '    nonMasqueradeCIDRs: [10.0.0.0/16]',
      '    masqLinkLocal: true',
      '  ip-masq-agent-reconciled: |',
      '    nonMasqueradeCIDRs: [10.1.0.0/16, 10.0.0.0/16]',
      '    resyncInterval: 30s',
      '',
    ].join('\n');
    const r = await importText(cm);
    expect(r.code).toBe(0);
    const c = await loadImported(r.stdout);
    expect(c.nonMasqueradeCIDRs).toEqual(['10.0.0.0/16', '10.1.0.0/16']);
    expect(c.masqLinkLocal).toBe(true);
    expect(r.stderr).toMatch(/resyncInterval \(ip-masq-agent-v2 ignores it/);
  });
});

describe('check on a pasted manifest', () => {
  it('says to use ip-masq import', async () => {
    const dir = tempDir('paste');
    const path = join(dir, 'config.yaml');
    writeFileSync(path, readFileSync(join(FIXTURES, 'configmap.yaml')));
    const r = await cli('check', '--config', path);
    expect(r.code).toBe(6);
    expect(r.stderr.split('\n')[0]).toBe(
      `${path}:1:1: this is a Kubernetes ConfigMap manifest, not an ip-masq config; convert it: ip-masq import ${path} > config.yaml (it maps the agent's config and DaemonSet flags and names what it cannot carry over)`,
    );
  });

  it('adds nothing to an ordinary mistake', async () => {
    const path = join(tempDir('paste'), 'config.yaml');
    writeFileSync(path, 'masqLinkLocal: 3\n');
    const r = await cli('check', '--config', path);
    expect(r.code).toBe(6);
    expect(r.stderr).not.toMatch(/ip-masq import/);
  });
});
