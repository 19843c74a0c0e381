import { describe, expect, it } from 'vitest';
import type {
  NftBackend,
  NftEventHandlers,
  NftEventStream,
  NftProbe,
} from '../../daemon/src/nft/backend.js';
import { SessionBackedNft } from '../../daemon/src/nft/session-backend.js';
import type { NftListSession } from '../../daemon/src/nft/session.js';
import type { NftBatch, NftListing } from '../../daemon/src/nft/types.js';

const FROM_SESSION: NftListing = [{ table: { family: 'ip', name: 'from-session' } }];
const FROM_ONE_SHOT: NftListing = [{ table: { family: 'ip', name: 'from-one-shot' } }];

/** A stub backend recording every call; its session answers with `sessionAnswer`. */
class StubBackend implements NftBackend {
  readonly argv = ['ip', 'netns', 'exec', 'x', 'nft'] as const;
  readonly calls: string[] = [];
  sessionsOpened = 0;
  sessionCloses = 0;
  sessionAnswer: (what: readonly string[]) => Promise<NftListing | null> = async () => FROM_SESSION;
  readonly stream: NftEventStream = {
    start: () => undefined,
    stop: async () => undefined,
    running: false,
  };

  describe(args?: readonly string[]): string {
    this.calls.push(`describe ${args?.join(' ') ?? ''}`);
    return `nft ${args?.join(' ') ?? ''}`.trim();
  }
  async list(what: readonly string[]): Promise<NftListing | null> {
    this.calls.push(`list ${what.join(' ')}`);
    return FROM_ONE_SHOT;
  }
  async applyBatch(batch: NftBatch, options?: { check?: boolean }): Promise<void> {
    this.calls.push(`applyBatch ${batch.nftables.length} ${JSON.stringify(options)}`);
  }
  async probe(): Promise<NftProbe> {
    this.calls.push('probe');
    return { version: '1.0.6' };
  }
  monitor(handlers: NftEventHandlers): NftEventStream {
    this.calls.push(`monitor ${handlers.objects?.join(' ')}`);
    return this.stream;
  }
  openSession(): NftListSession {
    this.sessionsOpened++;
    return {
      list: (what) => {
        this.calls.push(`session.list ${what.join(' ')}`);
        return this.sessionAnswer(what);
      },
      close: () => {
        this.sessionCloses++;
      },
    };
  }
}

describe('SessionBackedNft', () => {
  it('lists through the session when it answers; the one-shot list is not used', async () => {
    const inner = new StubBackend();
    const nft = new SessionBackedNft(inner);
    await expect(nft.list(['table', 'ip', 'ip-masq'])).resolves.toEqual(FROM_SESSION);
    expect(inner.calls).toEqual(['session.list table ip ip-masq']);
    expect(inner.sessionsOpened).toBe(1);
  });

  it('falls back to the one-shot list when the session rejects', async () => {
    const inner = new StubBackend();
    inner.sessionAnswer = async () => {
      throw new Error('session died');
    };
    const nft = new SessionBackedNft(inner);
    await expect(nft.list(['chain', 'ip', 'nat', 'POSTROUTING'])).resolves.toEqual(FROM_ONE_SHOT);
    expect(inner.calls).toEqual([
      'session.list chain ip nat POSTROUTING',
      'list chain ip nat POSTROUTING',
    ]);
  });

  it('three session failures in a row: one-shot only for 10 min, then the session again', async () => {
    const inner = new StubBackend();
    let failing = true;
    inner.sessionAnswer = async () => {
      if (failing) throw new Error('no interactive mode here');
      return FROM_SESSION;
    };
    let now = 1_000_000;
    const nft = new SessionBackedNft(inner, () => now);
    for (let i = 0; i < 3; i++) await nft.list(['table', 'ip', 'ip-masq']);
    expect(inner.calls.filter((c) => c.startsWith('session.list'))).toHaveLength(3);
    expect(inner.sessionCloses).toBe(1);
    inner.calls.length = 0;
    failing = false;
    now += 599_999;
    await expect(nft.list(['table', 'ip', 'ip-masq'])).resolves.toEqual(FROM_ONE_SHOT);
    expect(inner.calls).toEqual(['list table ip ip-masq']);
    inner.calls.length = 0;
    now += 1;
    await expect(nft.list(['table', 'ip', 'ip-masq'])).resolves.toEqual(FROM_SESSION);
    expect(inner.calls).toEqual(['session.list table ip ip-masq']);
  });

  it('a success between failures starts the count over', async () => {
    const inner = new StubBackend();
    const answers = [false, false, true, false, false];
    inner.sessionAnswer = async () => {
      if (!(answers.shift() ?? true)) throw new Error('flaky');
      return FROM_SESSION;
    };
    const nft = new SessionBackedNft(inner);
    for (let i = 0; i < 5; i++) await nft.list(['table', 'ip', 'ip-masq']);
    await nft.list(['table', 'ip', 'ip-masq']);
    // Never three in a row: every listing went to the session first.
    expect(inner.calls.filter((c) => c.startsWith('session.list'))).toHaveLength(6);
    expect(inner.sessionCloses).toBe(0);
  });

  it("the one-shot list's own error is the one reported", async () => {
    const inner = new StubBackend();
    inner.sessionAnswer = async () => {
      throw new Error('session died');
    };
    inner.list = async () => {
      throw new Error('permission denied');
    };
    const nft = new SessionBackedNft(inner);
    await expect(nft.list(['table', 'ip', 'ip-masq'])).rejects.toThrow('permission denied');
  });

  it('a null answer from the session (no such object) is returned as is, without fallback', async () => {
    const inner = new StubBackend();
    inner.sessionAnswer = async () => null;
    const nft = new SessionBackedNft(inner);
    await expect(nft.list(['table', 'ip', 'ip-masq'])).resolves.toBeNull();
    expect(inner.calls).toEqual(['session.list table ip ip-masq']);
  });

  it('openSession() shares the one inner session, with the same fallback', async () => {
    const inner = new StubBackend();
    const nft = new SessionBackedNft(inner);
    const a = nft.openSession();
    const b = nft.openSession();
    expect(inner.sessionsOpened).toBe(1);
    await expect(a.list(['chain', 'ip', 'nat', 'FLANNEL-POSTRTG'])).resolves.toEqual(FROM_SESSION);
    await expect(b.list(['chain', 'ip', 'nat', 'POSTROUTING'])).resolves.toEqual(FROM_SESSION);
    inner.sessionAnswer = async () => {
      throw new Error('timed out');
    };
    await expect(a.list(['chain', 'ip', 'nat', 'FLANNEL-POSTRTG'])).resolves.toEqual(FROM_ONE_SHOT);
    expect(inner.calls).toEqual([
      'session.list chain ip nat FLANNEL-POSTRTG',
      'session.list chain ip nat POSTROUTING',
      'session.list chain ip nat FLANNEL-POSTRTG',
      'list chain ip nat FLANNEL-POSTRTG',
    ]);
    expect(inner.sessionsOpened).toBe(1);
    a.close();
    expect(inner.sessionCloses).toBe(1);
  });

  it('close() closes the inner session', () => {
    const inner = new StubBackend();
    const nft = new SessionBackedNft(inner);
    expect(inner.sessionCloses).toBe(0);
    nft.close();
    expect(inner.sessionCloses).toBe(1);
  });

  it('applyBatch, monitor, probe, describe and argv go to the inner backend', async () => {
    const inner = new StubBackend();
    const nft = new SessionBackedNft(inner);
    expect(nft.argv).toBe(inner.argv);
    expect(nft.describe(['list', 'ruleset'])).toBe('nft list ruleset');
    expect(nft.describe()).toBe('nft');
    await nft.applyBatch({ nftables: [{ metainfo: { json_schema_version: 1 } }] }, { check: true });
    await nft.applyBatch({ nftables: [] });
    await expect(nft.probe()).resolves.toEqual({ version: '1.0.6' });
    const handlers: NftEventHandlers = { objects: ['new', 'rules'], onEvent: () => undefined };
    expect(nft.monitor(handlers)).toBe(inner.stream);
    expect(inner.calls).toEqual([
      'describe list ruleset',
      'describe ',
      'applyBatch 1 {"check":true}',
      'applyBatch 0 undefined',
      'probe',
      'monitor new rules',
    ]);
  });

  it('argv is undefined when the inner backend runs no binary', () => {
    const inner = new StubBackend();
    const bare: NftBackend = {
      describe: (a) => inner.describe(a),
      list: (w) => inner.list(w),
      applyBatch: (b, o) => inner.applyBatch(b, o),
      probe: () => inner.probe(),
      monitor: (h) => inner.monitor(h),
      openSession: () => inner.openSession(),
    };
    expect(new SessionBackedNft(bare).argv).toBeUndefined();
  });
});
