// Cost of one native journal entry through `logger --journald` (daemon/src/daemon/journal-sender.ts):
// wall time per entry (the queue sends one at a time) and the part that blocks the event loop
// (spawn's fork/exec handshake). Run it where /run/systemd/journal/socket exists, e.g. in a
// booted container, or against a stand-in socket:
//   unshare -m sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal &&
//     python3 -c "import socket,os;s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM);s.bind(\"/run/systemd/journal/socket\");os.chmod(\"/run/systemd/journal/socket\",0o666);[s.recv(65536) for _ in iter(int,1)]" &
//     sleep 0.3; node bench/journal-cost.mjs'
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const N = Number(process.env.N ?? 200);
const entry =
  'MESSAGE=applied: +1 −0 CIDRs (+198.51.100.0/24), generation 2, 50 ms\nPRIORITY=6\nSYSLOG_IDENTIFIER=ip-masq\nIP_MASQ_EVENT=applied\nIP_MASQ_GENERATION=2\nIP_MASQ_CIDRS_ADDED=198.51.100.0/24\n';

function once() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('logger', ['--journald'], { stdio: ['pipe', 'ignore', 'inherit'] });
    const blocked = performance.now() - t0;
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ wall: performance.now() - t0, blocked })
        : reject(new Error(`exit ${code}`)),
    );
    child.stdin.end(entry);
  });
}

const wall = [];
const blocked = [];
const cpu0 = process.cpuUsage();
for (let i = 0; i < N; i++) {
  const r = await once();
  wall.push(r.wall);
  blocked.push(r.blocked);
}
const cpu = process.cpuUsage(cpu0);
const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
console.log(
  JSON.stringify({
    entries: N,
    wallMs: { p50: +q(wall, 0.5).toFixed(2), p99: +q(wall, 0.99).toFixed(2) },
    eventLoopBlockedMs: { p50: +q(blocked, 0.5).toFixed(3), p99: +q(blocked, 0.99).toFixed(3) },
    daemonCpuMsPerEntry: +((cpu.user + cpu.system) / 1000 / N).toFixed(3),
    node: process.version,
  }),
);
