// Why a target is missed (or what to know about one), from profiles taken on this machine kind
// (2 vCPU AMD EPYC VM, nft 1.0.6, kernel 6.18) on 2026-11-30. Keyed by the target ids in
// report.mjs; each text is printed only when that target is missed in the run being reported,
// next to that run's figures. How each profile was taken is part of the text.
export const FINDINGS = {
  'b1-ratio:met':
    'met here, but it moves with the load on this shared VM (0.67–1.3 across the runs of the same day). About a third of our time at 10,000 is JavaScript in `daemon/src/nft/normalize.ts` that is easy to remove (profile: `node --cpu-prof` on `bench/apply-cost.mjs --worker --n 10000`; `parseIp`/`parseIpv4Number` are the top self-time entries): ' +
    '`expectedState()`/`liveState()` sort set elements with `compareElementKeys`, which calls `parseIp` on both keys on every comparison, and `canonicalAddress` re-parses every element nft already prints canonically. ' +
    'With a canonical-IPv4 fast path and a native string sort (equality is all the comparison needs), measured on a patched copy with `BENCH_DAEMON_ROOT=<copy> node bench/apply-cost.mjs --n 10000`: compare 78–144 → 25–31 ms, verify 59–110 → 11 ms, ratio ≈ 0.8–0.9.',
  'b1-ratio':
    'profiled with `node --cpu-prof` on `bench/apply-cost.mjs --worker --n 10000` and the phase split in the B1 table. ' +
    'Two parts. (1) JavaScript in `daemon/src/nft/normalize.ts` (the lead\'s): `expectedState()` and `liveState()` sort the set elements with `compareElementKeys`, ' +
    'which calls `parseIp` on both keys on every comparison (≈ 2 × n log n parses, four sorts per changed apply), and `canonicalAddress` parses and re-formats every element nft already prints canonically; ' +
    '`parseIp`/`parseIpv4Number` were the top self-time entries. That is the "compare" and "verify" columns. ' +
    'Measured with the same harness on a patched copy (`BENCH_DAEMON_ROOT=<copy> node bench/apply-cost.mjs --n 10000`: a canonical-IPv4 fast path in `canonicalAddress` and a native string sort, since equality is all the comparison needs): ' +
    'compare 78–144 → 25–31 ms, verify 59–110 → 11 ms, reconcile 470–770 → 390–420 ms against the baseline\'s 475–640 ms, i.e. a ratio of about 0.8–0.9. ' +
    '(2) nft itself: ours lists the 10,000-element table twice (before, and the read-back verification the baseline does not do; ≈ 80–100 ms each, of which ≈ 40 ms is nft\'s own cache fetch even with `-t`), ' +
    'and the transaction (`nft -j -f`, ≈ 150 ms) costs about what iptables-restore does (≈ 140 ms).',
  'b1-100k':
    'the nft binary, measured alone in a namespace: `nft -j -f` of a table with a 100,000-element interval set took 1.6–6.1 s (text syntax `nft -f`: 1.5–2.6 s), and `nft -j list table` of it 2.1 s (terse `-t`: 1.45 s — nft 1.0.6 fetches the elements into its cache anyway). ' +
    'A reconcile is one transaction plus two listings (before, and the read-back verify), so it cannot finish in 2 s here whatever the JavaScript does; the JavaScript (the normalize.ts sort, see the B1 ratio at 10,000) adds ≈ 1 s more at 100,000 and is fixable. ' +
    'For the lead: skipping the pre-apply listing when the config changed since the last verified apply saves one listing; verifying a 100,000-element set without listing it would need the kernel\'s netlink API directly (libnftables/nft cannot dump fewer). ' +
    'The baseline is far slower at this size (its `iptables -C` alone takes seconds with 100,000 rules in the nat table: the "sync" minus "iptables-restore" columns).',
  'b2-flat':
    'not a dependence on N but the VM\'s load over time, from a re-run: in the run of 15:42 UTC (N looped outermost) ours at 10,000 came out 31 % below N = 64 with non-overlapping ranges, ' +
    'but an immediate re-run interleaving N (64, 10,000, 100,000, 10,000, 64; one 2 s window each) gave 48.8, 51.7, 49.6, 53.1 and 49.0 k flows/s — no trend with N, even at 100,000 — while the baseline fell from 45 k to 0.7 k. ' +
    'The policy does one set lookup per new flow whatever N is; the generator, the forwarding and other jobs share the 2 vCPUs (load average in the header), so a few minutes apart the same N differs by more than 10 %. ' +
    'Since then the bench runs in rounds (every N, ours and the baseline back to back, in each round); if this still shows, compare the min–max spread at one N with the difference between N.',
  'b2-ratio':
    'the ratio of total rates is capped by what every masquerading policy pays per new flow: a conntrack entry and a NAT binding (the "masquerade only" reference; generator and forwarding on the same 2 vCPUs). ' +
    'Ours adds little or nothing on top of that floor at any N, the baseline\'s linear chain adds one payload compare per rule: see the "policy\'s own cost" column and the figures of this run at the end of this paragraph. ' +
    'The total-rate ratio cannot exceed (floor + baseline\'s policy cost) / floor. The issue\'s reference (220–250 k new flows/s for a plain set) is above this VM\'s masquerade-only and even its no-NAT forwarding rate in this run; ' +
    'a likely cause is packets that were not new flows: hping3 from one source address wraps its source port every 65,536 packets and, with the default 30 s UDP conntrack timeout, later packets match existing entries and skip the nat hook. ' +
    'This bench sends from random source addresses with a 1 s timeout in the router and proves every packet was new (masqueraded / forwarded ≈ 1).',
  'b5-noop-cost':
    'profiled with the phase split in the B5 table: a pass with nothing to change still lists our tables (`nft -j list table ip ip-masq`, both families: ≈ 80–100 ms with 10,000 elements, of which ≈ 40 ms is nft\'s cache fetch even with `-t`) and normalizes them (≈ 70–100 ms of JavaScript, ≈ 8 ms with the normalize.ts fix described under B1). ' +
    '≤ 30 ms at 10,000 needs a pass that does not list 10,000 elements: for the lead, e.g. trust the last verified apply while the daemon\'s `nft monitor` (already running) reports no event on our table, and list in full only on such an event, on a config change, or on a slow timer.',
  'b5-rss':
    'not a leak: `bench/daemon-latency.mjs` with 200, 1,000 and 2,000 SIGHUP passes gave 82, 93 and 93 MiB (a plateau reached within a few hundred passes), against 50 MiB after READY and 39 MiB for a bare `node`. ' +
    'It is V8 sizing its heap for the garbage each pass makes (nft output parsed as JSON, normalized copies). Same bench with `--node-flags` (the daemon helper\'s option): `--max-semi-space-size=1` → 73 MiB after 1,000 passes; ' +
    '`--max-semi-space-size=1 --optimize-for-size` → 64 MiB after 500; `--max-semi-space-size=1 --lite-mode` → 56 MiB after 500 (and start → READY 272 ms), at a CPU cost for very large lists (no optimizing compiler; 100,000-CIDR applies looked 1.3–2× slower in a noisy spot check). ' +
    'For the lead / daemon owner: pick the flags in the unit\'s ExecStart (or `v8.setFlagsFromString` before the heap grows), then re-run `make bench`.',
  'b5-ready':
    'spot checks of `bench/daemon-latency.mjs` on this VM gave medians of 270–480 ms depending on the load from other jobs (load average in the header); ' +
    'Node\'s own start-up plus loading the 0.5 MiB bundle is most of it (`node -e ""` alone took 80–125 ms and `node dist/ip-masq.js --version` 125–160 ms in the same spot check; then a first `nft` probe, the first listing and the first transaction are a few process spawns of ≈ 5–10 ms each). `--lite-mode` gave 272 ms.',
};
