// What the figures were measured on: printed at the top of docs/BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { REPO } from './common.mjs';

const out = (argv) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', cwd: REPO });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : `(${argv[0]} unavailable)`;
};

export function machineInfo() {
  const model =
    /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ??
    cpus()[0]?.model ??
    'unknown';
  return {
    nproc: Number(out(['nproc'])),
    cpuModel: model.trim(),
    memGiB: totalmem() / 2 ** 30,
    kernel: out(['uname', '-r']),
    os: /PRETTY_NAME="(.*)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown',
    nft: out(['nft', '--version']),
    iptables: out(['iptables', '--version']),
    hping3: out(['sh', '-c', 'hping3 --version 2>&1 | head -1']),
    node: process.version,
    commit: out(['git', 'rev-parse', '--short', 'HEAD']),
    load: loadavg().map((x) => Number(x.toFixed(2))),
  };
}
