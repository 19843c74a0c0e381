/**
 * Config files an operator (or a broken tool) might leave behind, each one invalid or
 * unreadable: the daemon must keep the working rules byte-for-byte and stay up.
 * `make(path)` replaces whatever is at `path` (file, directory or symlink) with the case.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface HostileConfig {
  name: string;
  make(path: string): void;
}

function clear(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

/** Replaces the file the way editors do (write a temp file, rename over). */
function text(name: string, content: string | Buffer): HostileConfig {
  return {
    name,
    make(path) {
      const tmp = join(dirname(path), `.${name.replace(/\W+/g, '-')}.tmp`);
      writeFileSync(tmp, content);
      clear(path);
      writeFileSync(path, content);
      rmSync(tmp);
    },
  };
}

/** Deterministic pseudo-random bytes (a fixed LCG: the same "binary file" on every run). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const nested = (depth: number) => `nonMasqueradeCIDRs: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
// Nine levels of nine aliases each: 387 million strings if expanded naively.
const aliasBomb = `nonMasqueradeCIDRs: [&a ["x","x","x","x","x","x","x","x","x"], ${'bcdefghi'
  .split('')
  .map((c, i) => `&${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)
  .join(', ')}]\n`;

export const HOSTILE_CONFIGS: readonly HostileConfig[] = [
  // YAML syntax
  text('unclosed flow sequence', 'nonMasqueradeCIDRs: [10.0.0.0/8\n'),
  text('bad indentation', 'nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n - 192.168.0.0/16\n'),
  text('tab indentation', 'nonMasqueradeCIDRs:\n\t- 10.0.0.0/8\n'),
  text('duplicate key', 'masqLinkLocal: true\nmasqLinkLocal: false\n'),
  text('unterminated quote', 'resyncInterval: "60s\n'),
  text('two documents', 'masqLinkLocal: true\n---\nmasqLinkLocal: false\n'),
  text('stray colon mapping', 'nonMasqueradeCIDRs: : :\n'),
  text('unknown alias', 'nonMasqueradeCIDRs: *nope\n'),
  text('alias bomb', aliasBomb),
  text('deep nesting', nested(5000)),
  // Not a mapping at the top
  text('top-level list', '- 10.0.0.0/8\n'),
  text('top-level scalar', 'hello\n'),
  text('JSON array', '["10.0.0.0/8"]'),
  // Unknown keys and wrong types
  text('unknown key', 'nonMasqueradeCidrs: [10.0.0.0/8]\n'),
  text('unknown flannel key', 'flannel:\n  removeMasq: true\n'),
  text('bool as yes', 'masqLinkLocal: yes\n'),
  text('bool as string', 'masqLinkLocal: "true"\n'),
  text('list as string', 'nonMasqueradeCIDRs: 10.0.0.0/8\n'),
  text('list of maps', 'nonMasqueradeCIDRs:\n  - cidr: 10.0.0.0/8\n'),
  text('number in list', 'nonMasqueradeCIDRs: [10]\n'),
  text('null in list', 'nonMasqueradeCIDRs: [10.0.0.0/8, null]\n'),
  text('empty string in list', 'nonMasqueradeCIDRs: [""]\n'),
  text('flannel as list', 'flannel: [removeMasquerade]\n'),
  text('subnetEnv as number', 'flannel:\n  subnetEnv: 5\n'),
  text('cidrLimit negative', 'cidrLimit: -1\n'),
  text('cidrLimit exceeded', 'cidrLimit: 1\nnonMasqueradeCIDRs: [10.0.0.0/8, 192.168.0.0/16]\n'),
  // Durations
  text('resync zero', 'resyncInterval: 0s\n'),
  text('resync negative', 'resyncInterval: -5s\n'),
  text('resync garbage', 'resyncInterval: soon\n'),
  text('resync overflow', 'resyncInterval: 1000000h\n'),
  // CIDRs
  text('misaligned IPv4', 'nonMasqueradeCIDRs: [10.1.2.3/8]\n'),
  text('misaligned IPv6', 'nonMasqueradeCIDRs: ["fd00::1/8"]\n'),
  text('leading zeros', 'nonMasqueradeCIDRs: [010.0.0.0/8]\n'),
  text('prefix too long', 'nonMasqueradeCIDRs: [10.0.0.0/33]\n'),
  text('no prefix length', 'nonMasqueradeCIDRs: [10.0.0.0]\n'),
  text('octet out of range', 'nonMasqueradeCIDRs: [256.0.0.0/8]\n'),
  text('hostname', 'nonMasqueradeCIDRs: [example.com/8]\n'),
  text('shell injection', 'nonMasqueradeCIDRs: ["10.0.0.0/8; nft flush ruleset"]\n'),
  text('nft injection', 'nonMasqueradeCIDRs: ["10.0.0.0/8 } ; flush ruleset ; {"]\n'),
  // Bytes
  text('10 MB', `nonMasqueradeCIDRs:\n${'  - 10.0.0.0/8\n'.repeat((10 * 1024 * 1024) / 16)}`),
  text('binary', bytes(64 * 1024, 42)),
  text('NUL bytes', Buffer.from('masqLinkLocal: tr\0ue\n')),
  text(
    'invalid UTF-8',
    Buffer.concat([
      Buffer.from('nonMasqueradeCIDRs: ["10.0.0.0/8'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"]\n'),
    ]),
  ),
  text(
    'UTF-16 with BOM',
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('masqLinkLocal: true\n', 'utf16le')]),
  ),
  text('very long line', `nonMasqueradeCIDRs: [${'x'.repeat(1_000_000)}]\n`),
  // Not a regular file
  {
    name: 'directory in place of the file',
    make(path) {
      clear(path);
      mkdirSync(path);
      writeFileSync(join(path, 'config.yaml'), 'masqLinkLocal: true\n');
    },
  },
  {
    name: 'symlink loop',
    make(path) {
      clear(path);
      symlinkSync(path, path);
    },
  },
  {
    name: 'symlink loop through a second link',
    make(path) {
      const other = join(dirname(path), 'other-link.yaml');
      clear(path);
      clear(other);
      symlinkSync(other, path);
      symlinkSync(path, other);
    },
  },
  {
    name: 'dangling symlink',
    make(path) {
      clear(path);
      symlinkSync(join(dirname(path), 'does-not-exist.yaml'), path);
    },
  },
  {
    name: 'FIFO in place of the file',
    make(path) {
      clear(path);
      // A reader that opened it blocking would hang the daemon forever.
      if (spawnSync('mkfifo', [path]).status !== 0) throw new Error(`mkfifo ${path} failed`);
    },
  },
  {
    // The daemon runs without CAP_DAC_OVERRIDE (see the test), so mode 000 is unreadable even for root.
    name: 'unreadable (mode 000)',
    make(path) {
      clear(path);
      writeFileSync(path, 'masqLinkLocal: true\n');
      chmodSync(path, 0o000);
    },
  },
];
