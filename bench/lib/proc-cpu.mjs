// CPU time of a process tree from /proc: the process itself, its reaped children (cutime +
// cstime, which the kernel adds when a child is waited for) and every live descendant. Used by
// B7 to charge the daemon for everything it runs, including short-lived nft children.
import { readdirSync, readFileSync } from 'node:fs';

const TICK_S = 1 / 100; // USER_HZ: 100 on every Linux that Node supports

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces). */
function statFields(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // gone
  }
}

/** ppid → child pids, for every process now alive. */
function childrenMap() {
  const map = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (!f) continue;
    const ppid = Number(f[1]);
    if (!map.has(ppid)) map.set(ppid, []);
    map.get(ppid).push(Number(name));
  }
  return map;
}

/**
 * CPU seconds used so far by `pid` and all it ran: own utime + stime, the reaped children's
 * cutime + cstime, and the utime + stime + cutime + cstime of every live descendant.
 * Returns NaN once `pid` itself is gone.
 */
export function treeCpuSeconds(pid) {
  const own = statFields(pid);
  if (!own) return NaN;
  // After the command name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
  const ticks = (f) => Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  let total = ticks(own);
  const kids = childrenMap();
  const stack = [...(kids.get(pid) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    const f = statFields(p);
    if (f) total += ticks(f);
    stack.push(...(kids.get(p) ?? []));
  }
  return total * TICK_S;
}
