/**
 * The production loader (loadConfigTree) on the main file, against real files in a temp
 * directory: absent, directory, dangling symlink, loop, FIFO, permission denied (a real EACCES,
 * by reading as uid 65534 in a child process), oversize, binary and non-UTF-8 content.
 * Drop-ins have their own tests (config-dropins.test.ts).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFs } from '../../daemon/src/config/load.js';
import { defaultConfig } from '../../daemon/src/config/settings.js';
import { configToJson } from '../../daemon/src/config/to-json.js';
import { loadConfigTree } from '../../daemon/src/config/tree.js';
import { ConfigError } from '../../daemon/src/errors.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipmasq-config-load-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function loadError(path: string): Promise<ConfigError> {
  try {
    await loadConfigTree(path);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`expected ${path} to fail`);
}

/** The single file-level issue of an unreadable file. */
async function unreadable(path: string): Promise<string> {
  const e = await loadError(path);
  expect(e.code).toBe('CONFIG_UNREADABLE');
  expect(e.exitCode).toBe(6);
  expect(e.issues).toHaveLength(1);
  expect(e.issues[0]).toMatchObject({ file: path, line: 0, col: 0, path: '' });
  expect(e.message).toBe(`${path}: ${e.issues[0]?.message}`);
  return e.message;
}

describe('loadConfigTree: the main file', () => {
  it('absent file → defaults, origin absent', async () => {
    const path = join(dir, 'absent.yaml');
    const loaded = await loadConfigTree(path);
    expect(loaded).toMatchObject({ origin: 'absent', text: null, path, files: [] });
    expect(loaded.config).toEqual(defaultConfig());
  });

  it('absent directory → defaults, origin absent', async () => {
    const path = join(dir, 'no-such-dir', 'config.yaml');
    const loaded = await loadConfigTree(path);
    expect(loaded.origin).toBe('absent');
    expect(configToJson(loaded.config)).toEqual(configToJson(defaultConfig()));
  });

  it('a valid file → its config, origin file, with the text', async () => {
    const path = join(dir, 'ok.yaml');
    const text = 'masqLinkLocal: true\nnonMasqueradeCIDRs: [10.0.0.0/8]\n';
    writeFileSync(path, text);
    const loaded = await loadConfigTree(path);
    expect(loaded.origin).toBe('file');
    expect(loaded.text).toBe(text);
    expect(loaded.path).toBe(path);
    expect(loaded.config.masqLinkLocal).toBe(true);
    expect(loaded.config.nonMasqueradeCIDRs).toEqual(['10.0.0.0/8']);
  });

  it('an empty file → defaults, origin file', async () => {
    const path = join(dir, 'empty.yaml');
    writeFileSync(path, '');
    const loaded = await loadConfigTree(path);
    expect(loaded.origin).toBe('file');
    expect(loaded.text).toBe('');
    expect(configToJson(loaded.config)).toEqual(configToJson(defaultConfig()));
  });

  it('drops a UTF-8 BOM', async () => {
    const path = join(dir, 'bom.yaml');
    writeFileSync(
      path,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('masqLinkLocal: true\n')]),
    );
    const loaded = await loadConfigTree(path);
    expect(loaded.text).toBe('masqLinkLocal: true\n');
    expect(loaded.config.masqLinkLocal).toBe(true);
  });

  it('follows a symlink to a file (ConfigMap-style ..data links)', async () => {
    const target = join(dir, 'target.yaml');
    const link = join(dir, 'link.yaml');
    writeFileSync(target, 'randomFully: false\n');
    symlinkSync(target, link);
    const loaded = await loadConfigTree(link);
    expect(loaded.origin).toBe('file');
    expect(loaded.config.randomFully).toBe(false);
  });

  it('invalid content → CONFIG_INVALID with positions, labelled with the path as given', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'masqLinkLocal: yes\n');
    const e = await loadError(path);
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(
      `${path}:1:16: masqLinkLocal: expected boolean, got string "yes"; write true (YAML 1.2 reads yes/on as a string)`,
    );
  });

  it('a directory in place of the file', async () => {
    const path = join(dir, 'a-directory.yaml');
    mkdirSync(path);
    expect(await unreadable(path)).toBe(`${path}: is a directory, not a file`);
  });

  it('a dangling symlink is reported, not taken for an absent file', async () => {
    const path = join(dir, 'dangling.yaml');
    symlinkSync(join(dir, 'nowhere.yaml'), path);
    expect(await unreadable(path)).toBe(
      `${path}: is a dangling symlink (points to ${JSON.stringify(join(dir, 'nowhere.yaml'))}, which does not exist)`,
    );
  });

  it('a symlink loop', async () => {
    const a = join(dir, 'loop-a.yaml');
    const b = join(dir, 'loop-b.yaml');
    symlinkSync(b, a);
    symlinkSync(a, b);
    expect(await unreadable(a)).toBe(`${a}: is a symlink loop (too many levels of symbolic links)`);
  });

  it('a path through a regular file', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const path = join(file, 'config.yaml');
    expect(await unreadable(path)).toBe(`${path}: a component of the path is not a directory`);
  });

  it('a FIFO is refused without blocking', async () => {
    const path = join(dir, 'fifo.yaml');
    const r = spawnSync('mkfifo', [path]);
    expect(r.status).toBe(0);
    expect(await unreadable(path)).toBe(`${path}: is not a regular file (a FIFO)`);
  });

  it('a character device is refused', async () => {
    expect(await unreadable('/dev/zero')).toBe(
      '/dev/zero: is not a regular file (a character device)',
    );
  });

  it('a 10 MB file is refused from its size', async () => {
    const path = join(dir, 'huge.yaml');
    writeFileSync(path, Buffer.alloc(10 * 1024 * 1024, 0x20));
    expect(await unreadable(path)).toBe(`${path}: 10485760 bytes is larger than the 4 MiB limit`);
  });

  it('a file of exactly 4 MiB is read', async () => {
    const path = join(dir, 'limit.yaml');
    const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
    body.write('masqLinkLocal: true\n', 0);
    writeFileSync(path, body);
    expect((await loadConfigTree(path)).config.masqLinkLocal).toBe(true);
  });

  it('binary data (a NUL byte)', async () => {
    const path = join(dir, 'binary.yaml');
    writeFileSync(
      path,
      Buffer.concat([Buffer.from('masqLinkLocal: t'), Buffer.from([0x00, 0x7f, 0x45, 0x4c, 0x46])]),
    );
    expect(await unreadable(path)).toBe(
      `${path}: contains binary data (NUL byte at offset 16); is this the right file?`,
    );
  });

  it('invalid UTF-8 (a Latin-1 file)', async () => {
    const path = join(dir, 'latin1.yaml');
    writeFileSync(path, Buffer.from('# caf\xe9\nmasqLinkLocal: true\n', 'latin1'));
    expect(await unreadable(path)).toBe(
      `${path}: is not valid UTF-8 (invalid byte at offset 5); is this the right file?`,
    );
  });

  it('UTF-16 with a BOM', async () => {
    const path = join(dir, 'utf16.yaml');
    writeFileSync(
      path,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('masqLinkLocal: true\n', 'utf16le')]),
    );
    expect(await unreadable(path)).toBe(`${path}: is UTF-16 (little-endian BOM); save it as UTF-8`);
  });

  it('EACCES, injected (the message for the non-root service user)', async () => {
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const fs: ConfigFs = {
      open: () => Promise.reject(denied),
      lstat: () => Promise.reject(new Error('not called')),
      readlink: () => Promise.reject(new Error('not called')),
      readdir: () => Promise.reject(new Error('not called')),
      stat: () => Promise.reject(new Error('not called')),
    };
    const e = await loadConfigTree('/etc/ip-masq/config.yaml', fs).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('CONFIG_UNREADABLE');
    expect((e as ConfigError).cause).toBe(denied);
    const uid = process.getuid?.();
    expect((e as ConfigError).message).toBe(
      uid === 0
        ? '/etc/ip-masq/config.yaml: permission denied even for root (check the mode, ACLs and AppArmor/SELinux)'
        : `/etc/ip-masq/config.yaml: permission denied for uid ${uid} (the ip-masq service runs as an unprivileged dynamic user: make the file and its directories readable by others, e.g. chmod 0644)`,
    );
  });
});

describe('loadConfigTree as an unprivileged user (real EACCES)', () => {
  // As root (CI), drop to uid 65534 in a child process; as anyone else, we already are unprivileged.
  const isRoot = process.getuid?.() === 0;
  const unprivilegedUid = isRoot ? 65534 : process.getuid?.();
  let bundle: string;
  let userDir: string;

  beforeAll(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'ipmasq-config-eacces-'));
    chmodSync(userDir, 0o755);
    if (!isRoot) return;
    // A world-readable bundle of the loader, so uid 65534 runs the real code path.
    bundle = join(userDir, 'load-config.mjs');
    const entry = join(userDir, 'entry.ts');
    const treeTs = fileURLToPath(new URL('../../daemon/src/config/tree.ts', import.meta.url));
    writeFileSync(
      entry,
      `import { loadConfigTree } from ${JSON.stringify(treeTs)};\n` +
        'loadConfigTree(process.argv[2]).then((r) => console.log(JSON.stringify({ origin: r.origin })), ' +
        '(e) => console.log(JSON.stringify({ code: e.code, message: e.message })));\n',
    );
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node18.19',
      outfile: bundle,
      logLevel: 'silent',
      // yaml's CommonJS build calls require('process').
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    chmodSync(bundle, 0o644);
  });

  afterAll(() => {
    // As an ordinary user the mode-000 directory cannot be listed, so not removed, until opened.
    if (existsSync(join(userDir, 'locked'))) chmodSync(join(userDir, 'locked'), 0o700);
    rmSync(userDir, { recursive: true, force: true });
  });

  async function loadUnprivileged(
    path: string,
  ): Promise<{ code?: string; message?: string; origin?: string }> {
    if (!isRoot) {
      return loadConfigTree(path).then(
        (r) => ({ origin: r.origin }),
        (e: ConfigError) => ({ code: e.code, message: e.message }),
      );
    }
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bundle, path],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as { code?: string; message?: string; origin?: string };
  }

  it('a mode-000 file', async () => {
    const path = join(userDir, 'secret.yaml');
    writeFileSync(path, 'masqLinkLocal: true\n');
    chmodSync(path, 0o000);
    expect(await loadUnprivileged(path)).toEqual({
      code: 'CONFIG_UNREADABLE',
      message: `${path}: permission denied for uid ${unprivilegedUid} (the ip-masq service runs as an unprivileged dynamic user: make the file and its directories readable by others, e.g. chmod 0644)`,
    });
  });

  it('a directory without search permission', async () => {
    const locked = join(userDir, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'config.yaml'), 'masqLinkLocal: true\n');
    chmodSync(locked, 0o700);
    if (!isRoot) chmodSync(locked, 0o000);
    const path = join(locked, 'config.yaml');
    expect(await loadUnprivileged(path)).toEqual({
      code: 'CONFIG_UNREADABLE',
      message: `${path}: permission denied for uid ${unprivilegedUid} (the ip-masq service runs as an unprivileged dynamic user: make the file and its directories readable by others, e.g. chmod 0644)`,
    });
  });

  it('a world-readable file loads for the unprivileged user', async () => {
    const path = join(userDir, 'public.yaml');
    writeFileSync(path, 'masqLinkLocal: true\n');
    chmodSync(path, 0o644);
    expect(await loadUnprivileged(path)).toEqual({ origin: 'file' });
  });
});
