import { describe, expect, it } from 'vitest';
import { createNotifier } from '../../daemon/src/daemon/notify.js';

function recorder(fail = false) {
  const calls: string[][] = [];
  return {
    calls,
    exec: async (file: string, args: string[]) => {
      calls.push([file, ...args]);
      if (fail) throw new Error('spawn systemd-notify ENOENT');
    },
  };
}

describe('createNotifier', () => {
  it('sends nothing without NOTIFY_SOCKET', async () => {
    const r = recorder();
    const n = createNotifier({ env: { WATCHDOG_USEC: '1000000' }, exec: r.exec });
    n.ready('x');
    n.status('y');
    n.watchdog();
    await n.flush();
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeNull();
    expect(r.calls).toEqual([]);
  });

  it('sends READY with STATUS, later STATUS changes only, in order, through systemd-notify', async () => {
    const r = recorder();
    const n = createNotifier({ env: { NOTIFY_SOCKET: '/run/systemd/notify' }, exec: r.exec });
    n.status('starting');
    n.ready('enforcing /etc/ip-masq/config.yaml\ngeneration 1');
    n.status('enforcing /etc/ip-masq/config.yaml; generation 1');
    n.status('config invalid');
    n.watchdog();
    n.stopping('stopping');
    await n.flush();
    expect(r.calls).toEqual([
      ['systemd-notify', 'STATUS=starting'],
      ['systemd-notify', 'READY=1', 'STATUS=enforcing /etc/ip-masq/config.yaml; generation 1'],
      ['systemd-notify', 'STATUS=config invalid'],
      ['systemd-notify', 'WATCHDOG=1'],
      ['systemd-notify', 'STOPPING=1', 'STATUS=stopping'],
    ]);
  });

  it('derives the watchdog interval from WATCHDOG_USEC (half), only for our pid', () => {
    const env = { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '20000000' };
    expect(createNotifier({ env, pid: 42 }).watchdogIntervalMs).toBe(10_000);
    expect(
      createNotifier({ env: { ...env, WATCHDOG_PID: '42' }, pid: 42 }).watchdogIntervalMs,
    ).toBe(10_000);
    expect(
      createNotifier({ env: { ...env, WATCHDOG_PID: '7' }, pid: 42 }).watchdogIntervalMs,
    ).toBeNull();
    expect(createNotifier({ env: { NOTIFY_SOCKET: '/x' }, pid: 42 }).watchdogIntervalMs).toBeNull();
  });

  it('reports a failing systemd-notify once and keeps going', async () => {
    const r = recorder(true);
    const errors: string[] = [];
    const n = createNotifier({
      env: { NOTIFY_SOCKET: '/x' },
      exec: r.exec,
      onError: (m) => errors.push(m),
    });
    n.ready('a');
    n.status('b');
    n.status('c');
    await n.flush();
    expect(r.calls).toHaveLength(3);
    expect(errors).toEqual(['systemd-notify READY=1 failed: spawn systemd-notify ENOENT']);
  });
});
