// Why a target is missed (or what to know about one), from profiles taken on this machine kind
// (2 vCPU AMD EPYC VM, nft 1.0.6, kernel 6.18) on 2026-11-30. Keyed by the target ids in
// report.mjs; each text is printed only when that target is missed in the run being reported,
// next to that run's figures. How each profile was taken is part of the text.
export const FINDINGS = {
  'b1-ratio:met':
    'met here, but it moves with the load on this shared VM (0.67–1.3 across the runs of the same day). An earlier profile (`node --cpu-prof` on `bench/apply-cost.mjs --worker --n 10000`) had `parseIp`/`parseIpv4Number` in `daemon/src/nft/normalize.ts` as the top self-time entries (set elements sorted with a comparator that re-parsed both keys, and IPv4 text nft already prints canonically re-parsed); since commit baf7c5e elements are compared as sets without sorting and IPv4 is not re-parsed.',
  'b1-ratio':
    'profiled with `node --cpu-prof` on `bench/apply-cost.mjs --worker --n 10000` and the phase split in the B1 table. ' +
    'JavaScript: the compare and verify columns (normalizing both sides; since commit baf7c5e without sorting or re-parsing IPv4). ' +
    "nft itself: ours lists the 10,000-element table twice (before, and the read-back verification the baseline does not do; ≈ 80–100 ms each, of which ≈ 40 ms is nft's own cache fetch even with `-t`), " +
    'and the transaction (`nft -j -f`, ≈ 150 ms) costs about what iptables-restore does (≈ 140 ms). The daemon skips the first listing when the config changed since its last verified apply (this in-process bench and `ip-masq apply` do not).',
  'b1-100k':
    'the nft binary, measured alone in a namespace: `nft -j -f` of a table with a 100,000-element interval set took 1.6–6.1 s (text syntax `nft -f`: 1.5–2.6 s), and `nft -j list table` of it 2.1 s (terse `-t`: 1.45 s — nft 1.0.6 fetches the elements into its cache anyway). ' +
    'A reconcile is one transaction plus two listings (before, and the read-back verify), so it cannot finish in 2 s here whatever the JavaScript does; the JavaScript adds the compare and verify columns. ' +
    "The daemon already skips the pre-apply listing when the config changed since its last verified apply (commit baf7c5e; this bench measures `reconcile()` without that memory, like `ip-masq apply`); verifying a 100,000-element set without listing it would need the kernel's netlink API directly (libnftables/nft cannot dump fewer). " +
    'The baseline is far slower at this size (its `iptables -C` alone takes seconds with 100,000 rules in the nat table: the "sync" minus "iptables-restore" columns).',
  'b2-flat':
    "not a dependence on N but the VM's load over time, from a re-run: in the run of 15:42 UTC (N looped outermost) ours at 10,000 came out 31 % below N = 64 with non-overlapping ranges, " +
    'but an immediate re-run interleaving N (64, 10,000, 100,000, 10,000, 64; one 2 s window each) gave 48.8, 51.7, 49.6, 53.1 and 49.0 k flows/s — no trend with N, even at 100,000 — while the baseline fell from 45 k to 0.7 k. ' +
    'The policy does one set lookup per new flow whatever N is; the generator, the forwarding and other jobs share the 2 vCPUs (load average in the header), so a few minutes apart the same N differs by more than 10 %. ' +
    'Since then the bench runs in rounds (every N, ours and the baseline back to back, in each round); if this still shows, compare the min–max spread at one N with the difference between N.',
  'b2-ratio':
    'the ratio of total rates is capped by what every masquerading policy pays per new flow: a conntrack entry and a NAT binding (the "masquerade only" reference; generator and forwarding on the same 2 vCPUs). ' +
    'Ours adds little or nothing on top of that floor at any N, the baseline\'s linear chain adds one payload compare per rule: see the "policy\'s own cost" column and the figures of this run at the end of this paragraph. ' +
    "The total-rate ratio cannot exceed (floor + baseline's policy cost) / floor. The issue's reference (220–250 k new flows/s for a plain set) is above this VM's masquerade-only and even its no-NAT forwarding rate in this run; " +
    'a likely cause is packets that were not new flows: hping3 from one source address wraps its source port every 65,536 packets and, with the default 30 s UDP conntrack timeout, later packets match existing entries and skip the nat hook. ' +
    'This bench sends from random source addresses with a 1 s timeout in the router and proves every packet was new (masqueraded / forwarded ≈ 1).',
  'b5-noop-cost':
    "profiled with the phase split in the B5 table: a pass with nothing to change still lists our tables (`nft -j list table ip ip-masq`, both families: ≈ 80–100 ms with 10,000 elements, of which ≈ 40 ms is nft's cache fetch even with `-t`) and normalizes them (the compare column). " +
    '≤ 30 ms at 10,000 needs a pass that does not list 10,000 elements, i.e. a resync that trusts the last verified apply while `nft monitor` reports nothing. Left as is on purpose: the resync is the backstop for exactly the case where the monitor missed something (a restart gap, a netlink overrun), so it looks at the kernel; edits (file events with new text) and monitor events are the fast path, and a file event whose text did not change costs no nft call at all.',
  'b5-rss':
    'not a leak: `bench/daemon-latency.mjs` with 200, 1,000 and 2,000 SIGHUP passes gave 82, 93 and 93 MiB (a plateau reached within a few hundred passes), against 50 MiB after READY and 39 MiB for a bare `node`. ' +
    "It is V8 sizing its heap for the garbage each pass makes (nft output parsed as JSON, normalized copies). Same bench with `--node-flags` (the daemon helper's option): `--max-semi-space-size=1` → 73 MiB after 1,000 passes; " +
    '`--max-semi-space-size=1 --optimize-for-size` → 64 MiB after 500; `--max-semi-space-size=1 --lite-mode` → 56 MiB after 500 (and start → READY 272 ms), at a CPU cost for very large lists (no optimizing compiler; 100,000-CIDR applies looked 1.3–2× slower in a noisy spot check). ' +
    "The unit's ExecStart gives node `--max-semi-space-size=1 --lite-mode --no-expose-wasm`, and `bench/daemon-latency.mjs` runs the daemon with those same flags (read from systemd/ip-masq.service). On 2026-12-02 the same bench arguments (`--edits 200 --drifts 200 --reconciles 1000`) gave 58.1 MiB for the tree before that day's changes (b90009c) and 57.6 MiB after them, against 52.0 MiB for the same code a day earlier: the figure moves with the VM from day to day, not with the code of that day.",
  'b5-ready':
    'spot checks of `bench/daemon-latency.mjs` on this VM gave medians of 270–480 ms depending on the load from other jobs (load average in the header); ' +
    'Node\'s own start-up plus loading the 0.5 MiB bundle is most of it (`node -e ""` alone took 80–125 ms and `node dist/ip-masq.js --version` 125–160 ms in the same spot check; then a first `nft` probe, the first listing and the first transaction are a few process spawns of ≈ 5–10 ms each). `--lite-mode` gave 272 ms.',
  'b7-cpu-on':
    "with flanneld re-adding its MASQUERADE rules every 5 s (ipMasq on) the daemon runs a deletion pass every 5 s, on top of the always-on `nft -j monitor chains` (≈ 0.9 % of a core per 4,000 rules/s: nft receives and discards every netlink message) and the poll of flannel's chains that replaces the flooded rule monitor (`bench/poll-cost.mjs`: ≈ 0.15–0.23 ms of nft and ≈ 1 ms of --lite-mode Node a look through the nft session, two looks a second). " +
    'A profile of the pass on this machine kind (strace of the daemon in poll mode, 01:05 UTC): two short-lived children per deletion pass (`nft -j -f -` for the deletion, `iptables-nft -S FLANNEL-POSTRTG` for the audit comment), every listing through the session, ≈ 20 ms of Node per pass (the pass, its audit line). ' +
    "What is left grows with flanneld's re-adds, not with the co-tenant: the fix is the one the daemon's warning names (flanneld without `--ip-masq`).",
  'b7-cpu-off':
    "with flannel's ipMasq off the daemon runs only `nft -j monitor chains` after the start-up window; nft receives every netlink message of the co-tenant and discards it undecoded (≈ 0.9 % of a core per 4,000 rules/s, linear in the churn, measured alone in `bench/churn-cost.mjs`'s namespace). That is the price of hearing our table's deletion at once; only the kernel could filter earlier.",
  'b7-heal':
    "the heal is one pass: a few listings through the nft session and one transaction, which waits for the kernel's commit mutex while the co-tenant commits 4,000 rules. Spot checks on this machine kind (01:05 UTC, load 1–2) gave p99 19–30 ms (n = 20); a p99 above 100 ms came with load averages above 10 from other jobs on this 2-vCPU VM. On a quiet node the same heal is B4.",
  'b7-readd':
    "with the churn flooding the rule monitor, the daemon sees a re-add through the poll of flannel's chain (every 500 ms) and deletes it in one pass, so p99 ≈ 500 ms + a pass. The bench's observer is itself a `nft -j monitor rules` under the churn (≈ 14 % of a core) whose timestamps bunch, and with n = 30 the p99 is the single worst trial.",
};
