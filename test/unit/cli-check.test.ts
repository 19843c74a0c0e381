/** `ip-masq check`: a named file must exist, --json for scripts, warnings for empty lists. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyListWarnings } from '../../daemon/src/config/empty-lists.js';
import { cli, tempDir } from '../helpers/cli.js';

function configFile(text: string): string {
  const path = join(tempDir('check'), 'config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('check', () => {
  it('a --config file that does not exist is an error (exit 6), for every verb that loads it', async () => {
    const missing = join(tempDir('check'), 'typo', 'config.yaml');
    const r = await cli('check', '--config', missing);
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `${missing}: does not exist (named with --config); fix the path, or leave --config out to use the default file (absent means the defaults)\n`,
    );
    expect((await cli('render', '--config', missing)).code).toBe(6);
    expect((await cli('--config', missing, 'explain', '192.0.2.1')).code).toBe(6);
  });

  it('a --config file that is absent but has drop-ins next to it is still an error', async () => {
    const dir = tempDir('check');
    mkdirSync(join(dir, 'config.d'));
    writeFileSync(join(dir, 'config.d', 'a.yaml'), 'nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    expect((await cli('check', '--config', join(dir, 'config.yaml'))).code).toBe(6);
  });

  it('--json on an invalid config prints valid:false and every issue with its place, exit 6', async () => {
    const path = configFile(
      'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.1.2.3/8\nmasqLinkLocal: yes\nnonMasqueradeCIRDs: []\n',
    );
    const r = await cli('check', '--config', path, '--json');
    expect(r.code).toBe(6);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { valid: boolean; issues: Record<string, unknown>[] };
    expect(out.valid).toBe(false);
    expect(out.issues).toHaveLength(3);
    expect(out.issues[0]).toEqual({
      file: path,
      line: 3,
      column: 5,
      path: 'nonMasqueradeCIDRs[1]',
      message: expect.stringMatching(/not aligned to its prefix; did you mean 10\.0\.0\.0\/8/),
    });
    for (const i of out.issues)
      expect(Object.keys(i).sort()).toEqual(['column', 'file', 'line', 'message', 'path']);
  });

  it('--json on an unreadable or missing named file is valid:false too', async () => {
    const missing = join(tempDir('check'), 'nope.yaml');
    const r = await cli('check', '--config', missing, '--json');
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      issues: [
        {
          file: missing,
          line: 0,
          column: 0,
          path: '',
          message: expect.stringMatching(/does not exist/),
        },
      ],
    });
  });

  it('--json on a valid config prints valid:true with the effective config and warnings', async () => {
    const path = configFile('nonMasqueradeCIDRs: [198.51.100.0/24]\n');
    const r = await cli('check', '--config', path, '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      valid: true,
      nonMasqueradeCIDRs: ['198.51.100.0/24'],
      randomFully: true,
      warnings: [],
    });
  });

  it('a list key with no value gets a warning saying what it means, in text and JSON', async () => {
    const path = configFile('masqLinkLocal: false\nnonMasqueradeCIDRs:\n');
    const text = await cli('check', '--config', path);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      `  warning: ${path}:2:1: nonMasqueradeCIDRs: no value means an empty list: no destination keeps the pod source address`,
    );
    const json = JSON.parse((await cli('check', '--config', path, '--json')).stdout) as {
      warnings: unknown[];
    };
    expect(json.warnings).toEqual([
      expect.objectContaining({ line: 2, column: 1, path: 'nonMasqueradeCIDRs' }),
    ]);
  });
});

describe('emptyListWarnings', () => {
  it('warns for `key:` with no value only, not for explicit null, [] or a list', () => {
    expect(emptyListWarnings('nonMasqueradeCIDRs:\n', 'c.yaml')).toHaveLength(1);
    expect(emptyListWarnings('nonMasqueradeCIDRs: null\n', 'c.yaml')).toEqual([]);
    expect(emptyListWarnings('nonMasqueradeCIDRs: ~\n', 'c.yaml')).toEqual([]);
    expect(emptyListWarnings('nonMasqueradeCIDRs: []\n', 'c.yaml')).toEqual([]);
    expect(emptyListWarnings('nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n', 'c.yaml')).toEqual([]);
    expect(emptyListWarnings('{"nonMasqueradeCIDRs": null}', 'c.json')).toEqual([]);
    expect(emptyListWarnings('nonMasqueradeCIDRs: [\n', 'c.yaml')).toEqual([]);
  });

  it('finds nested list keys and names their place', () => {
    expect(emptyListWarnings('flannel:\n  clusterCIDR:\n', 'c.yaml')).toEqual([
      {
        file: 'c.yaml',
        line: 2,
        col: 3,
        path: 'flannel.clusterCIDR',
        message: expect.stringMatching(/comes from flannel's subnet\.env/),
      },
    ]);
  });
});
