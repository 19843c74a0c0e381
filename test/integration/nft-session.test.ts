/**
 * NftSession (daemon/src/nft/session.ts) against a real `nft -j -i` (nft 1.0.6) in throwaway
 * network namespaces, plus a scripted fake nft (a small node program written to a temp dir)
 * for what the real one will not do on demand: hang, warn, refuse, print garbage, exit.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NftError } from '../../daemon/src/errors.js';
import { NftClient } from '../../daemon/src/nft/client.js';
import { NftSession, type NftSessionOptions } from '../../daemon/src/nft/session.js';
import type { NftListing, NftRule } from '../../daemon/src/nft/types.js';
import { Netns, canUseNetns, mustExec } from '../helpers/netns.js';

/** Root, nft and iproute2 (test/helpers/netns.ts decides: skip under make check, fail under make test). */
const NETNS = canUseNetns();
const IPTABLES_NFT = NETNS && canUseNetns(['iptables-nft']);

/** Generous: other suites may share the two cores. */
const WAIT = { timeout: 10_000, interval: 25 };

const sessions: NftSession[] = [];
const namespaces: Netns[] = [];
let tmp: string;
let fakeNft: string;

function open(options: NftSessionOptions): NftSession {
  const s = new NftSession(options);
  sessions.push(s);
  return s;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ipm-nftsession-'));
  fakeNft = join(tmp, 'fake-nft.cjs');
  writeFileSync(fakeNft, FAKE_NFT);
});
afterEach(() => {
  for (const s of sessions.splice(0)) s.close();
});
afterAll(async () => {
  for (const s of sessions.splice(0)) s.close();
  await Promise.all(namespaces.map((n) => n.dispose()));
  rmSync(tmp, { recursive: true, force: true });
});

/** A fresh namespace with `table ip t { chain c { counter } }`. */
async function freshNs(label: string): Promise<Netns> {
  const ns = await Netns.create(label);
  namespaces.push(ns);
  await ns.mustExec(['nft', 'add table ip t; add chain ip t c; add rule ip t c counter']);
  return ns;
}

/** `nft -j list <words>` run once from outside, without the metainfo entry. */
async function listOnce(ns: Netns, words: string[]): Promise<NftListing> {
  const out = await ns.mustExec(['nft', '-j', 'list', ...words]);
  return (JSON.parse(out) as { nftables: NftListing }).nftables.filter((o) => !('metainfo' in o));
}

const rulesOf = (l: NftListing | null): NftRule[] =>
  (l ?? []).flatMap((o) => ('rule' in o ? [o.rule] : []));

/** Processes inside the namespace (only the session's nft ever lingers there). */
async function nsPids(ns: Netns): Promise<number[]> {
  const out = await mustExec(['ip', 'netns', 'pids', ns.name]);
  return out.split('\n').filter(Boolean).map(Number);
}

/**
 * Whether the process still exists. All pids checked here are this worker's own children
 * (`ip netns exec` execs nft in place), so a dead one is reaped by Node, and Node emits the
 * child's 'exit' in the same turn: once this is false, the session has seen the exit. (A zombie
 * would not do: a list() sent in that window goes to the dead child and fails.)
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function rejection(p: Promise<unknown>): Promise<NftError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NftError);
  return e as NftError;
}

describe.runIf(NETNS)('NftSession with the real nft -j -i', () => {
  it('lists a chain and sees every change made from outside (no stale cache)', async () => {
    const ns = await freshNs('sess');
    const session = open({ argv: ns.nftArgv() });
    const first = await session.list(['chain', 'ip', 't', 'c']);
    expect(first).toEqual(await listOnce(ns, ['chain', 'ip', 't', 'c']));
    expect(first?.[0]).toMatchObject({ chain: { family: 'ip', table: 't', name: 'c' } });
    expect(rulesOf(first).map((r) => r.expr)).toEqual([[{ counter: { packets: 0, bytes: 0 } }]]);

    for (let i = 0; i < 5; i++) {
      await ns.mustExec(['nft', 'add', 'rule', 'ip', 't', 'c', 'counter', 'comment', `step-${i}`]);
      const rules = rulesOf(await session.list(['chain', 'ip', 't', 'c']));
      expect(rules).toHaveLength(i + 2);
      expect(rules.at(-1)?.comment).toBe(`step-${i}`);
    }
    await ns.mustExec(['nft', 'flush chain ip t c']);
    expect(rulesOf(await session.list(['chain', 'ip', 't', 'c']))).toEqual([]);
    await ns.mustExec(['nft', 'delete chain ip t c']);
    expect(await session.list(['chain', 'ip', 't', 'c'])).toBeNull();
    await ns.mustExec(['nft', 'add chain ip t c; add rule ip t c accept']);
    const back = await session.list(['chain', 'ip', 't', 'c']);
    expect(back).toEqual(await listOnce(ns, ['chain', 'ip', 't', 'c']));
    expect(rulesOf(back).map((r) => r.expr)).toEqual([[{ accept: null }]]);

    // All of it through one child.
    expect(await nsPids(ns)).toHaveLength(1);
  });

  it('answers null for a missing table or chain, and the next command is not disturbed', async () => {
    const ns = await freshNs('miss');
    const session = new NftClient({ argv: ns.nftArgv() }).openSession();
    try {
      const c = await listOnce(ns, ['chain', 'ip', 't', 'c']);
      for (let i = 0; i < 3; i++) {
        expect(await session.list(['chain', 'ip', 't', 'nope'])).toBeNull();
        expect(await session.list(['chain', 'ip', 't', 'c'])).toEqual(c);
        expect(await session.list(['table', 'ip', 'absent'])).toBeNull();
        expect(await session.list(['chain', 'ip', 'absent', 'c'])).toBeNull();
        expect(await session.list(['table', 'ip', 't'])).toEqual(
          await listOnce(ns, ['table', 'ip', 't']),
        );
        // A syntax error is a failure, not a miss; the session still answers afterwards.
        const e = await rejection(session.list(['bogus']));
        expect(e.code).toBe('NFT_FAILED');
        expect(e.stderr).toMatch(/syntax error/);
        expect(await session.list(['chain', 'ip', 't', 'c'])).toEqual(c);
      }
    } finally {
      session.close();
    }
  });

  it('gives each of 50 concurrent calls its own answer', async () => {
    const ns = await freshNs('conc');
    const chains = [0, 1, 2, 3, 4].map((i) => `c${i}`);
    const script = chains.flatMap((name, i) => [
      `add chain ip t ${name}`,
      ...Array.from(
        { length: i + 1 },
        (_, j) => `add rule ip t ${name} counter comment "${name}-${j}"`,
      ),
    ]);
    await ns.mustExec(['nft', '-f', '-'], script.join('\n') + '\n');
    const expected = new Map<string, NftListing>();
    for (const name of chains) expected.set(name, await listOnce(ns, ['chain', 'ip', 't', name]));

    const session = open({ argv: ns.nftArgv() });
    const calls = Array.from({ length: 50 }, (_, k) => {
      if (k % 5 === 0) return { words: ['chain', 'ip', 't', `nope${k}`], want: null };
      if (k % 7 === 0) return { words: ['table', 'ip', `gone${k}`], want: null };
      if (k === 13 || k === 31) return { words: ['chain', 'ip', 't', 'c0;'], want: 'reject' };
      const name = chains[k % chains.length] as string;
      return { words: ['chain', 'ip', 't', name], want: expected.get(name) };
    });
    const got = await Promise.allSettled(calls.map((c) => session.list(c.words)));
    got.forEach((r, k) => {
      const want = calls[k]?.want;
      if (want === 'reject') {
        expect(r.status, `call ${k}`).toBe('rejected');
      } else {
        expect(r, `call ${k}`).toEqual({ status: 'fulfilled', value: want });
      }
    });
    expect(await nsPids(ns)).toHaveLength(1);
  });

  it('rejects a word that is not an nft identifier without running anything', async () => {
    const ns = await freshNs('word');
    const before = await ns.ruleset();
    const session = open({ argv: ns.nftArgv() });
    const bad = ['nat; flush ruleset', 'a\nb', '', 'x'.repeat(257), 'a b', '"t"', '{', '#', 't\\'];
    for (const word of bad) {
      const e = await rejection(session.list(['table', 'ip', word]));
      expect(e.code).toBe('NFT_FAILED');
      expect(e.message).toMatch(/not a listing/);
    }
    expect((await rejection(session.list([]))).code).toBe('NFT_FAILED');
    // Nothing was started for them, and nothing changed.
    expect(await nsPids(ns)).toEqual([]);
    expect(await session.list(['table', 'ip', 't'])).toEqual(
      await listOnce(ns, ['table', 'ip', 't']),
    );
    for (const word of bad) await rejection(session.list(['table', 'ip', word]));
    expect(await ns.ruleset()).toEqual(before);
  });

  it('starts a new child after the old one was killed from outside', async () => {
    const ns = await freshNs('kill');
    const session = open({ argv: ns.nftArgv() });
    const c = await listOnce(ns, ['chain', 'ip', 't', 'c']);
    let previous: number | undefined;
    for (let round = 0; round < 3; round++) {
      expect(await session.list(['chain', 'ip', 't', 'c'])).toEqual(c);
      const pids = await nsPids(ns);
      expect(pids).toHaveLength(1);
      const pid = pids[0] as number;
      expect(pid).not.toBe(previous);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toEqual(expect.arrayContaining(['-j', '-i']));
      process.kill(pid, 'SIGKILL');
      await vi.waitFor(() => expect(alive(pid)).toBe(false), WAIT);
      previous = pid;
    }
    expect(await session.list(['chain', 'ip', 't', 'c'])).toEqual(c);
  });

  it('lets the child go after idleMs and starts a new one for the next call', async () => {
    const ns = await freshNs('idle');
    const session = open({ argv: ns.nftArgv(), idleMs: 200 });
    const c = await listOnce(ns, ['chain', 'ip', 't', 'c']);
    expect(await session.list(['chain', 'ip', 't', 'c'])).toEqual(c);
    const [pid] = await nsPids(ns);
    expect(pid).toBeDefined();
    await vi.waitFor(() => expect(alive(pid as number)).toBe(false), WAIT);
    expect(await nsPids(ns)).toEqual([]);
    expect(await session.list(['chain', 'ip', 't', 'c'])).toEqual(c);
    const [next] = await nsPids(ns);
    expect(next).toBeDefined();
    expect(next).not.toBe(pid);
  });
});

describe.runIf(IPTABLES_NFT)('NftSession with an iptables-nft table', () => {
  it('parses a listing with xt expressions', async () => {
    const ns = await Netns.create('ipt');
    namespaces.push(ns);
    await ns.mustExec([
      'iptables-nft',
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-s',
      '10.244.0.0/16',
      '-j',
      'MASQUERADE',
    ]);
    const session = open({ argv: ns.nftArgv() });
    const chain = await session.list(['chain', 'ip', 'nat', 'POSTROUTING']);
    expect(chain).toEqual(await listOnce(ns, ['chain', 'ip', 'nat', 'POSTROUTING']));
    const [rule] = rulesOf(chain);
    expect(rule?.expr).toEqual([
      {
        match: {
          op: '==',
          left: { payload: { protocol: 'ip', field: 'saddr' } },
          right: { prefix: { addr: '10.244.0.0', len: 16 } },
        },
      },
      { counter: { packets: 0, bytes: 0 } },
      { xt: { type: 'target', name: 'MASQUERADE' } },
    ]);
    const table = await session.list(['table', 'ip', 'nat']);
    expect(table?.[0]).toMatchObject({ table: { family: 'ip', name: 'nat' } });
    expect(rulesOf(table)).toEqual([rule]);
    expect(await session.list(['chain', 'ip', 'nat', 'FLANNEL-POSTRTG'])).toBeNull();
  });
});

/**
 * The fake nft: `node fake-nft.cjs <plan> <dir> -j -i`. The plan is one script per instance
 * (`/`-separated, the last repeats), each a `,`-separated list of what to do per command (the
 * last repeats): ok, hang, warn, eperm, garbage, exit. Every instance appends its pid to
 * <dir>/pids and every command it reads to <dir>/lines.
 */
const FAKE_NFT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const [plan, dir] = process.argv.slice(2);
const pidsFile = path.join(dir, 'pids');
const index = fs.existsSync(pidsFile)
  ? fs.readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).length
  : 0;
fs.appendFileSync(pidsFile, process.pid + '\n');
const scripts = plan.split('/');
const steps = scripts[Math.min(index, scripts.length - 1)].split(',');
let n = 0;
let buf = '';
const reply = (line) =>
  process.stdout.write(
    JSON.stringify({
      nftables: [
        { metainfo: { version: 'fake' } },
        { table: { family: 'ip', name: line.split(' ').pop(), handle: index + 1 } },
      ],
    }) + '\n',
  );
process.stdin.setEncoding('utf8');
process.stdin.on('end', () => process.exit(0));
process.stdin.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    fs.appendFileSync(path.join(dir, 'lines'), process.pid + ' ' + line + '\n');
    const step = steps[Math.min(n++, steps.length - 1)];
    if (step === 'ok') reply(line);
    else if (step === 'warn') {
      process.stderr.write('# Warning: table ip nat is managed by iptables-nft, do not touch!\n');
      setTimeout(() => reply(line), 80);
    } else if (step === 'eperm')
      process.stderr.write('Error: Could not process rule: Operation not permitted\n' + line + '\n^^^^\n');
    else if (step === 'split-missing') {
      // nft 1.0.6 writes "Error: " and the reason separately; a slow scheduler splits them.
      process.stderr.write('Error: ');
      setTimeout(() => process.stderr.write('No such file or directory\n' + line + '\n      ^^^^\n'), 60);
    } else if (step === 'no-marker') process.stderr.write('Error: something without a marker line\n');
    else if (step === 'prompt') process.stdout.write('nft> ' + JSON.stringify({ nftables: [{ table: { family: 'ip', name: line.split(' ').pop(), handle: index + 1 } }] }) + '\n');
    else if (step === 'garbage') process.stdout.write('this is not json\n');
    else if (step === 'exit') process.exit(3);
  }
});
`;

describe('NftSession with a scripted fake nft', () => {
  let dir: string;
  const fake = (plan: string, options: Partial<NftSessionOptions> = {}): NftSession => {
    dir = mkdtempSync(join(tmp, 'run-'));
    return open({ argv: [process.execPath, fakeNft, plan, dir], ...options });
  };
  const pids = (): number[] =>
    existsSync(join(dir, 'pids'))
      ? readFileSync(join(dir, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number)
      : [];
  const lines = (): string[] =>
    existsSync(join(dir, 'lines'))
      ? readFileSync(join(dir, 'lines'), 'utf8').split('\n').filter(Boolean)
      : [];
  const table = (name: string, handle: number) => [{ table: { family: 'ip', name, handle } }];

  it('times out a child that never answers, kills it, and starts a new one', async () => {
    const session = fake('hang/ok', { timeoutMs: 300 });
    const e = await rejection(session.list(['table', 'ip', 'a']));
    expect(e.code).toBe('NFT_TIMEOUT');
    expect(e.message).toMatch(/no reply within 300 ms/);
    const [first] = pids();
    expect(first).toBeDefined();
    await vi.waitFor(() => expect(alive(first as number)).toBe(false), WAIT);
    expect(await session.list(['table', 'ip', 'b'])).toEqual(table('b', 2));
    expect(pids()).toHaveLength(2);
  });

  it('ignores a warning on stderr and resolves with the reply', async () => {
    const session = fake('warn,ok,warn');
    expect(await session.list(['table', 'ip', 'nat'])).toEqual(table('nat', 1));
    expect(await session.list(['table', 'ip', 'x'])).toEqual(table('x', 1));
    expect(await session.list(['table', 'ip', 'y'])).toEqual(table('y', 1));
    expect(pids()).toHaveLength(1);
  });

  it('rejects an error other than a missing object, and the same child answers next', async () => {
    const session = fake('eperm,ok');
    const e = await rejection(session.list(['table', 'ip', 'nat']));
    expect(e.code).toBe('NFT_FAILED');
    expect(e.message).toMatch(/Operation not permitted/);
    expect(e.stderr).toMatch(/^Error: Could not process rule: Operation not permitted/);
    expect(await session.list(['table', 'ip', 'x'])).toEqual(table('x', 1));
    expect(pids()).toHaveLength(1);
  });

  it('waits for the whole error line: a missing object written in two parts is still null', async () => {
    const session = fake('split-missing,no-marker,ok');
    expect(await session.list(['table', 'ip', 'gone'])).toBeNull();
    // No marker line: settled once stderr is quiet, as a failure.
    const e = await rejection(session.list(['table', 'ip', 'odd']));
    expect(e.code).toBe('NFT_FAILED');
    expect(e.message).toMatch(/something without a marker line/);
    expect(await session.list(['table', 'ip', 'x'])).toEqual(table('x', 1));
    expect(pids()).toHaveLength(1);
  });

  it("reads the reply after a readline build's prompt", async () => {
    const session = fake('prompt,ok');
    expect(await session.list(['table', 'ip', 'p'])).toEqual(table('p', 1));
    expect(await session.list(['table', 'ip', 'q'])).toEqual(table('q', 1));
  });

  it('rejects garbage on stdout and starts a fresh child for the next call', async () => {
    const session = fake('garbage/ok');
    const e = await rejection(session.list(['table', 'ip', 'a']));
    expect(e.code).toBe('NFT_FAILED');
    expect(e.message).toMatch(/unexpected output/);
    const [first] = pids();
    await vi.waitFor(() => expect(alive(first as number)).toBe(false), WAIT);
    expect(await session.list(['table', 'ip', 'b'])).toEqual(table('b', 2));
    expect(pids()).toHaveLength(2);
  });

  it('rejects the pending call when the child dies, then starts a new one', async () => {
    const session = fake('exit/hang/ok', { timeoutMs: 60_000 });
    const e = await rejection(session.list(['table', 'ip', 'a']));
    expect(e.code).toBe('NFT_FAILED');
    expect(e.message).toMatch(/exited \(code 3\)/);

    // Killed from outside while a command is pending.
    const pending = session.list(['table', 'ip', 'b']);
    await vi.waitFor(() => expect(lines()).toHaveLength(2), WAIT);
    const second = pids()[1] as number;
    process.kill(second, 'SIGKILL');
    const killed = await rejection(pending);
    expect(killed.code).toBe('NFT_FAILED');
    expect(killed.message).toMatch(/exited \(SIGKILL\)/);

    expect(await session.list(['table', 'ip', 'c'])).toEqual(table('c', 3));
    expect(pids()).toHaveLength(3);
  });

  it('sends nothing for an invalid word, even with a child running', async () => {
    const session = fake('ok');
    expect(await session.list(['table', 'ip', 'a'])).toEqual(table('a', 1));
    for (const word of ['nat; flush ruleset', 'a\nb', 'a b', ''])
      await rejection(session.list(['table', 'ip', word]));
    expect(await session.list(['table', 'ip', 'b'])).toEqual(table('b', 1));
    expect(lines().map((l) => l.replace(/^\d+ /, ''))).toEqual([
      'list table ip a',
      'list table ip b',
    ]);
  });

  it('close() rejects a pending call and ends the child', async () => {
    // The session's deadline is far away: only close() can end the call within the test.
    const session = fake('hang', { timeoutMs: 60_000 });
    const pending = session.list(['table', 'ip', 'a']);
    await vi.waitFor(() => expect(lines()).toHaveLength(1), WAIT);
    session.close();
    const e = await rejection(pending);
    expect(e.code).toBe('NFT_FAILED');
    expect(e.message).toMatch(/session closed/);
    const [pid] = pids();
    await vi.waitFor(() => expect(alive(pid as number)).toBe(false), WAIT);
  }, 15_000);

  it('a failing spawn rejects and does not wedge the queue', async () => {
    const session = open({ argv: [join(tmp, 'no-such-nft')] });
    const calls = [session.list(['table', 'ip', 'a']), session.list(['table', 'ip', 'b'])];
    for (const c of calls) expect((await rejection(c)).code).toBe('NFT_FAILED');
  });
});
