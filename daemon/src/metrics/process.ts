/**
 * What a dashboard or an alert joins on first: which build is running
 * (`ip_masq_build_info{version,node_version} 1`) and the process metrics every Prometheus
 * client library exports, under their standard names (client_golang's process collector):
 * process_resident_memory_bytes, process_start_time_seconds, process_open_fds.
 */
import { readdirSync } from 'node:fs';
import { VERSION } from '../version.js';
import type { MetricFamily } from './exposition.js';

export interface ProcessProbe {
  residentMemoryBytes(): number;
  /** Unix time the process started, in seconds. */
  startTimeSeconds: number;
  /** Open file descriptors; null where /proc/self/fd cannot be read. */
  openFds(): number | null;
  version: string;
  nodeVersion: string;
}

/** The running process, read from Node and /proc/self/fd. */
export function realProcessProbe(): ProcessProbe {
  return {
    residentMemoryBytes: () => process.memoryUsage.rss(),
    // Millisecond resolution: process.uptime() is measured from Node's own start.
    startTimeSeconds: Math.round(Date.now() - process.uptime() * 1000) / 1000,
    openFds() {
      try {
        // Counts the descriptor readdir itself holds open, as client_golang does.
        return readdirSync('/proc/self/fd').length;
      } catch {
        return null;
      }
    },
    version: VERSION,
    nodeVersion: process.version,
  };
}

export function processFamilies(p: ProcessProbe): MetricFamily[] {
  const families: MetricFamily[] = [
    {
      name: 'ip_masq_build_info',
      help: 'Always 1; the labels say which ip-masq version runs on which Node.js.',
      type: 'gauge',
      samples: [{ labels: { version: p.version, node_version: p.nodeVersion }, value: 1 }],
    },
    {
      name: 'process_resident_memory_bytes',
      help: 'Resident memory size in bytes.',
      type: 'gauge',
      samples: [{ value: p.residentMemoryBytes() }],
    },
    {
      name: 'process_start_time_seconds',
      help: 'Start time of the process since unix epoch in seconds.',
      type: 'gauge',
      samples: [{ value: p.startTimeSeconds }],
    },
  ];
  const fds = p.openFds();
  if (fds !== null)
    families.push({
      name: 'process_open_fds',
      help: 'Number of open file descriptors.',
      type: 'gauge',
      samples: [{ value: fds }],
    });
  return families;
}
