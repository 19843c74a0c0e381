import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '../errors.js';
import { defaultConfig } from '../config/settings.js';
import { readBounded } from '../fs/read-bounded.js';
import type { Config } from '../config/schema.js';
import { readLiveTables, planDifference } from '../reconcile/live-tables.js';
import { toPlanFacts } from '../reconcile/flannel-hooks.js';
import { readFlannelFacts } from '../flannel/read-facts.js';
import { formatDoctorReport, runDoctor, type DoctorCheck } from '../doctor/doctor.js';
import { buildPlan } from '../plan/plan.js';
import { loadConfig } from './common.js';
import type { Verb } from './verb.js';

/** Every host file doctor reads (CNI configs, units, subnet.env, /proc/net) is far smaller. */
const DOCTOR_READ_CAP = 16 * 1024 * 1024;

export const doctor: Verb = {
  name: 'doctor',
  summary:
    "checklist for this node: flannel's --ip-masq, CNI ipMasq, leftover masquerade rules, legacy iptables, our table",
  usage: `Usage: ip-masq doctor [--config PATH] [--nft PATH] [--root DIR] [--json]

The manual "turn off flannel's masquerade" procedure as a checklist, one line per check
(PASS / WARN / FAIL) with the fix: FLANNEL_IPMASQ, the CNI delegate's "ipMasq", flannel
MASQUERADE rules, iptables-legacy tables, CNI bridge-plugin masquerade chains, table ip-masq
vs the config, and the unit's ordering after nftables.service. Changes nothing.
Exits 0 when nothing FAILed, 1 otherwise.

  --json       machine-readable output
  --root DIR   read host files (/etc/cni/net.d, systemd units, /proc) under DIR (default /)`,
  common: ['config', 'nft'],
  options: { json: { type: 'boolean' }, root: { type: 'string' } },
  async run(ctx) {
    const root = typeof ctx.values.root === 'string' ? ctx.values.root : '/';
    const extra: DoctorCheck[] = [];
    let config: Config;
    let configOk = true;
    try {
      config = (await loadConfig(ctx)).config;
      extra.push({ id: 'config', status: 'PASS', message: `${ctx.configPath} is valid` });
    } catch (e) {
      configOk = false;
      config = defaultConfig();
      extra.push({
        id: 'config',
        status: 'FAIL',
        message: `${(e as Error).message.split('\n').join('; ')}`,
        fix: `fix ${ctx.configPath}; the checks below use the defaults`,
      });
    }
    const client = ctx.nft();
    const report = await runDoctor(
      {
        root,
        readFile: (p) => readBounded(p, { maxBytes: DOCTOR_READ_CAP }),
        readDir: (p) => readdir(p),
        nft: client,
        async ourTableMatches() {
          if (!configOk) return null;
          const { facts } = await readFlannelFacts(config.flannel, (p) =>
            readBounded(join(root, p), { maxBytes: DOCTOR_READ_CAP }),
          );
          return (
            planDifference(buildPlan(config, toPlanFacts(facts)), await readLiveTables(client)) ===
            null
          );
        },
      },
      config,
    );
    const checks = [...extra, ...report.checks];
    const failed = checks.some((c) => c.status === 'FAIL');
    if (ctx.values.json) ctx.io.stdout(`${JSON.stringify({ failed, checks }, null, 2)}\n`);
    else ctx.io.stdout(formatDoctorReport({ checks, failed }));
    return failed ? ExitCode.FAILURE : ExitCode.OK;
  },
};
