/** ip_masq_build_info and the standard process metrics in the exposition. */
import { describe, expect, it } from 'vitest';
import { processFamilies, realProcessProbe } from '../../daemon/src/metrics/process.js';
import { DaemonMetrics } from '../../daemon/src/metrics/recorder.js';
import { VERSION } from '../../daemon/src/version.js';

const probe = {
  residentMemoryBytes: () => 58_720_256,
  startTimeSeconds: 1_796_000_000.125,
  openFds: () => 17,
  version: '0.1.0',
  nodeVersion: 'v18.19.0',
};

describe('process metrics', () => {
  it('leads the exposition with build info and the process gauges, Prometheus-named', () => {
    const text = new DaemonMetrics(() => 0, probe).render();
    expect(text.startsWith('# HELP ip_masq_build_info ')).toBe(true);
    for (const line of [
      '# TYPE ip_masq_build_info gauge',
      'ip_masq_build_info{version="0.1.0",node_version="v18.19.0"} 1',
      '# TYPE process_resident_memory_bytes gauge',
      'process_resident_memory_bytes 58720256',
      '# TYPE process_start_time_seconds gauge',
      'process_start_time_seconds 1796000000.125',
      '# TYPE process_open_fds gauge',
      'process_open_fds 17',
    ])
      expect(text.split('\n')).toContain(line);
  });

  it('leaves process_open_fds out where /proc/self/fd cannot be read', () => {
    const names = processFamilies({ ...probe, openFds: () => null }).map((f) => f.name);
    expect(names).not.toContain('process_open_fds');
    expect(names).toContain('process_resident_memory_bytes');
  });

  it('the real probe reads this process', () => {
    const real = realProcessProbe();
    expect(real.version).toBe(VERSION);
    expect(real.nodeVersion).toBe(process.version);
    expect(real.residentMemoryBytes()).toBeGreaterThan(1_000_000);
    expect(real.openFds()).toBeGreaterThanOrEqual(3);
    expect(real.startTimeSeconds).toBeLessThanOrEqual(Date.now() / 1000);
    expect(real.startTimeSeconds).toBeGreaterThan(Date.now() / 1000 - process.uptime() - 5);
  });
});
