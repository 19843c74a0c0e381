import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NftEventHandlers, NftEventStream } from '../../daemon/src/nft/backend.js';
import {
  FLOOD_MEMORY_MS,
  ScopedMonitor,
  type FloodInfo,
  type ScopedMonitorOptions,
} from '../../daemon/src/nft/scoped-monitor.js';
import { Backoff } from '../../daemon/src/util/backoff.js';

/** One stream the monitor opened: its handlers, and what was done to it. */
interface FakeStream {
  handlers: NftEventHandlers;
  objects: string;
  starts: number;
  stops: number;
  running: boolean;
}

/** An in-memory `open`: records every stream; the test feeds onVolume itself. */
function fakeOpen(): {
  open: ScopedMonitorOptions['open'];
  streams: FakeStream[];
  rules: () => FakeStream[];
  liveRules: () => FakeStream[];
  chains: () => FakeStream[];
} {
  const streams: FakeStream[] = [];
  const open = (handlers: NftEventHandlers): NftEventStream => {
    const s: FakeStream = {
      handlers,
      objects: (handlers.objects ?? []).join(' '),
      starts: 0,
      stops: 0,
      running: false,
    };
    streams.push(s);
    return {
      start() {
        s.starts++;
        s.running = true;
      },
      async stop() {
        s.stops++;
        s.running = false;
      },
      get running() {
        return s.running;
      },
    };
  };
  const rules = () => streams.filter((s) => s.objects === 'new rules');
  return {
    open,
    streams,
    rules,
    liveRules: () => rules().filter((s) => s.running),
    chains: () => streams.filter((s) => s.objects === 'chains'),
  };
}

/** Feeds `bytes` to a stream as if its nft printed them. */
function volume(s: FakeStream | undefined, bytes: number): void {
  if (!s) throw new Error('no such stream');
  if (!s.handlers.onVolume) throw new Error('stream has no onVolume handler');
  s.handlers.onVolume(bytes);
}

const LIMIT = 1000;
const POLL_MS = 70;
const PROBE_MS = 5000;

describe('ScopedMonitor flood handling (in-memory streams, fake clock)', () => {
  let monitor: ScopedMonitor | null = null;
  let nft: ReturnType<typeof fakeOpen>;
  let polls: number;
  let floods: FloodInfo[];
  let calms: number;

  beforeEach(() => {
    vi.useFakeTimers();
    nft = fakeOpen();
    polls = 0;
    floods = [];
    calms = 0;
  });

  afterEach(async () => {
    await monitor?.stop();
    monitor = null;
    vi.useRealTimers();
  });

  function make(overrides: Partial<ScopedMonitorOptions> = {}): ScopedMonitor {
    monitor = new ScopedMonitor({
      open: nft.open,
      onEvent: () => undefined,
      ruleWindowMs: 1_000_000_000,
      poll: async () => {
        polls++;
      },
      pollMs: POLL_MS,
      floodBytesPerS: LIMIT,
      onFlood: (info) => floods.push(info),
      onCalm: () => calms++,
      probeBackoff: new Backoff({ initialMs: PROBE_MS, maxMs: 40_000 }),
      now: () => Date.now(),
      ...overrides,
    });
    monitor.start();
    return monitor;
  }

  /** A poll that stays in flight until release(); remembers how many ever ran at once. */
  function heldPoll(): {
    poll: () => Promise<void>;
    release: () => void;
    maxInFlight: () => number;
  } {
    let inFlight = 0;
    let max = 0;
    let pending: (() => void) | null = null;
    return {
      poll: () => {
        polls++;
        inFlight++;
        max = Math.max(max, inFlight);
        return new Promise<void>((resolve) => {
          pending = () => {
            inFlight--;
            resolve();
          };
        });
      },
      release: () => {
        const done = pending;
        pending = null;
        done?.();
      },
      maxInFlight: () => max,
    };
  }

  /** A monitor with its window open and its first rule stream flooded at the current time. */
  async function flooded(overrides: Partial<ScopedMonitorOptions> = {}): Promise<ScopedMonitor> {
    const m = make(overrides);
    m.watchRules();
    volume(nft.rules()[0], LIMIT + 1);
    await vi.advanceTimersByTimeAsync(0);
    return m;
  }

  it('opens a chains stream always and a rules stream for the window, with onVolume on the latter only', () => {
    const m = make();
    expect(nft.chains()).toHaveLength(1);
    expect(nft.chains()[0]!.running).toBe(true);
    expect(nft.chains()[0]!.handlers.onVolume).toBeUndefined();
    expect(nft.rules()).toHaveLength(0);
    expect(m.ruleWatch).toBe('off');

    m.watchRules();
    expect(nft.liveRules()).toHaveLength(1);
    expect(typeof nft.rules()[0]!.handlers.onVolume).toBe('function');
    expect(m.ruleWatch).toBe('stream');
    expect(m.watchingRules).toBe(true);
    expect(m.running).toBe(true);
  });

  it('does not flood while each second stays at or below the limit', async () => {
    const m = make();
    m.watchRules();
    const s = nft.rules()[0];
    for (let second = 0; second < 5; second++) {
      volume(s, 400);
      volume(s, 400);
      volume(s, 200); // exactly the limit: not more than it
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(floods).toEqual([]);
    expect(polls).toBe(0);
    expect(s!.running).toBe(true);
    expect(s!.stops).toBe(0);
    expect(m.ruleWatch).toBe('stream');
    // One byte more within the same second is a flood.
    volume(s, 1000);
    volume(s, 1);
    expect(floods).toHaveLength(1);
  });

  it('a flood stops the rule stream, polls at once and then every pollMs, and reports it', async () => {
    const m = make();
    m.watchRules();
    const s = nft.rules()[0];
    volume(s, 600);
    expect(polls).toBe(0);
    volume(s, 500);
    // poll() runs synchronously from the flood, before any timer.
    expect(polls).toBe(1);
    expect(s!.running).toBe(false);
    expect(s!.stops).toBe(1);
    expect(m.ruleWatch).toBe('poll');
    expect(m.watchingRules).toBe(true);
    expect(floods).toEqual([{ bytesInSecond: 1100, probeInMs: PROBE_MS }]);

    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(polls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(polls).toBe(2);
    await vi.advanceTimersByTimeAsync(POLL_MS * 10);
    expect(polls).toBe(12);
    // No new rule stream before the probe; the chain monitor is untouched.
    expect(nft.rules()).toHaveLength(1);
    expect(nft.chains()[0]!.running).toBe(true);
    expect(m.running).toBe(true);
  });

  it('polls never overlap: a slow poll delays the next one', async () => {
    const held = heldPoll();
    await flooded({ poll: held.poll });
    expect(polls).toBe(1);
    await vi.advanceTimersByTimeAsync(POLL_MS * 20);
    expect(polls).toBe(1);

    held.release();
    await vi.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(polls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(polls).toBe(2);
    await vi.advanceTimersByTimeAsync(POLL_MS * 20);
    expect(polls).toBe(2);
    held.release();
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(polls).toBe(3);
    expect(held.maxInFlight()).toBe(1);
  });

  it('a window reopened while the last poll is in flight starts no second, overlapping poll', async () => {
    const held = heldPoll();
    const m = await flooded({ ruleWindowMs: 3000, poll: held.poll });
    await vi.advanceTimersByTimeAsync(3000);
    expect(m.watchingRules).toBe(false);
    expect(polls).toBe(1);

    m.watchRules();
    expect(m.ruleWatch).toBe('poll');
    expect(polls).toBe(1);
    held.release();
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(polls).toBe(2);
    expect(held.maxInFlight()).toBe(1);
  });

  it('a window reopened after a poll that outlived the last one polls at once', async () => {
    let release: (() => void) | null = null;
    const m = await flooded({
      ruleWindowMs: 3000,
      poll: () => {
        polls++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await vi.advanceTimersByTimeAsync(3000);
    release!();
    await vi.advanceTimersByTimeAsync(1);
    expect(polls).toBe(1);

    // Within pollMs of that poll's end: nothing of the closed window's loop is left to wait for.
    m.watchRules();
    expect(polls).toBe(2);
    await vi.advanceTimersByTimeAsync(POLL_MS * 10);
    expect(polls).toBe(2);
  });

  it('a flood right after calm resumes a single poll loop', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const m = await flooded({
      poll: async () => {
        polls++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await Promise.resolve();
        inFlight--;
      },
    });
    await vi.advanceTimersByTimeAsync(PROBE_MS + 1000);
    expect(calms).toBe(1);
    expect(m.ruleWatch).toBe('stream');

    volume(nft.liveRules()[0], LIMIT + 1);
    expect(m.ruleWatch).toBe('poll');
    await vi.advanceTimersByTimeAsync(1);
    const before = polls;
    await vi.advanceTimersByTimeAsync(POLL_MS * 10);
    expect(polls - before).toBeGreaterThanOrEqual(9);
    expect(polls - before).toBeLessThanOrEqual(10);
    expect(maxInFlight).toBe(1);
  });

  it('a rejecting poll does not end the polling', async () => {
    await flooded({
      poll: async () => {
        polls++;
        throw new Error('nft session died');
      },
    });
    await vi.advanceTimersByTimeAsync(POLL_MS * 3);
    expect(polls).toBe(4);
  });

  it('a probe restarts the stream after the backoff, polls through the overlap, then calms', async () => {
    const m = await flooded();
    await vi.advanceTimersByTimeAsync(PROBE_MS - 1);
    expect(nft.rules()).toHaveLength(1);
    expect(nft.liveRules()).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(1);
    expect(nft.rules()).toHaveLength(2);
    const probe = nft.rules()[1]!;
    expect(probe.running).toBe(true);
    expect(typeof probe.handlers.onVolume).toBe('function');
    expect(m.ruleWatch).toBe('poll');

    // The poll goes on while the probe's stream subscribes.
    const atProbe = polls;
    await vi.advanceTimersByTimeAsync(900);
    expect(polls).toBeGreaterThan(atProbe + 10);
    expect(calms).toBe(0);
    volume(probe, LIMIT); // busy but not over the limit
    await vi.advanceTimersByTimeAsync(100);
    expect(calms).toBe(1);
    expect(m.ruleWatch).toBe('stream');
    expect(probe.running).toBe(true);
    expect(floods).toHaveLength(1);

    // The poll is over (at most a tick already scheduled finds nothing to do).
    const atCalm = polls;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(polls).toBe(atCalm);
    expect(nft.rules()).toHaveLength(2);
  });

  it('flooding during the probe goes back to polling and doubles the next probe delay', async () => {
    const m = await flooded();
    await vi.advanceTimersByTimeAsync(PROBE_MS + 500);
    const probe = nft.rules()[1]!;
    expect(probe.running).toBe(true);

    volume(probe, LIMIT + 1);
    expect(probe.running).toBe(false);
    expect(floods).toEqual([
      { bytesInSecond: LIMIT + 1, probeInMs: PROBE_MS },
      { bytesInSecond: LIMIT + 1, probeInMs: PROBE_MS * 2 },
    ]);
    expect(m.ruleWatch).toBe('poll');

    // Still one poll loop (not a second one started by the second flood).
    const before = polls;
    await vi.advanceTimersByTimeAsync(POLL_MS * 10);
    expect(polls).toBe(before + 10);

    // The calm timer of the flooded probe never fires.
    await vi.advanceTimersByTimeAsync(2000);
    expect(calms).toBe(0);

    // The next probe comes after twice the delay, counted from the second flood.
    await vi.advanceTimersByTimeAsync(PROBE_MS * 2 - POLL_MS * 10 - 2000 - 1);
    expect(nft.rules()).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(nft.rules()).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calms).toBe(1);
    expect(m.ruleWatch).toBe('stream');
  });

  it('a flood soon after calm doubles the probe delay; one after a 60 s calm spell starts over', async () => {
    await flooded();
    await vi.advanceTimersByTimeAsync(PROBE_MS + 1000);
    expect(calms).toBe(1);

    // Flood 30 s after the probe's stream started: not a calm spell.
    await vi.advanceTimersByTimeAsync(29_000);
    volume(nft.liveRules()[0], LIMIT + 1);
    expect(floods.at(-1)).toEqual({ bytesInSecond: LIMIT + 1, probeInMs: PROBE_MS * 2 });

    await vi.advanceTimersByTimeAsync(PROBE_MS * 2 + 1000);
    expect(calms).toBe(2);
    // This stream runs 60 s before it floods: the backoff starts over.
    await vi.advanceTimersByTimeAsync(59_000);
    volume(nft.liveRules()[0], LIMIT + 1);
    expect(floods.at(-1)).toEqual({ bytesInSecond: LIMIT + 1, probeInMs: PROBE_MS });
  });

  it('the window closing stops the poll, the probe and the stream', async () => {
    const m = await flooded({ ruleWindowMs: 3000 });
    await vi.advanceTimersByTimeAsync(2999);
    expect(m.watchingRules).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(m.watchingRules).toBe(false);
    expect(m.ruleWatch).toBe('off');
    const atClose = polls;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(polls).toBe(atClose);
    // No probe either: the only rule stream is the flooded one, stopped.
    expect(nft.rules()).toHaveLength(1);
    expect(nft.liveRules()).toHaveLength(0);
    expect(nft.chains()[0]!.running).toBe(true);
  });

  it('the window closing without a flood stops the stream', async () => {
    const m = make({ ruleWindowMs: 3000 });
    m.watchRules();
    await vi.advanceTimersByTimeAsync(3000);
    expect(m.watchingRules).toBe(false);
    expect(nft.rules()[0]!.running).toBe(false);
    expect(polls).toBe(0);
  });

  it('the window closing during a probe stops the probe stream and leaves the flood in place', async () => {
    const m = await flooded({ ruleWindowMs: PROBE_MS + 500 });
    await vi.advanceTimersByTimeAsync(PROBE_MS + 500);
    expect(m.watchingRules).toBe(false);
    expect(nft.rules()).toHaveLength(2);
    expect(nft.liveRules()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(calms).toBe(0);
    // Still flooded: the next window polls.
    const before = polls;
    m.watchRules();
    expect(polls).toBe(before + 1);
    expect(m.ruleWatch).toBe('poll');
  });

  it('a new window after a flood polls at once instead of opening a stream, and probes later', async () => {
    const m = await flooded({ ruleWindowMs: 3000 });
    await vi.advanceTimersByTimeAsync(3000);
    expect(m.watchingRules).toBe(false);
    const atClose = polls;

    m.watchRules();
    expect(polls).toBe(atClose + 1);
    expect(m.ruleWatch).toBe('poll');
    expect(nft.rules()).toHaveLength(1);
    expect(nft.liveRules()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(POLL_MS);
    expect(polls).toBe(atClose + 2);

    // Extending the window neither polls at once again nor starts a stream.
    m.watchRules();
    expect(polls).toBe(atClose + 2);
    expect(nft.rules()).toHaveLength(1);

    // A probe is scheduled (the backoff's next delay) and opens the stream; the window is kept
    // open meanwhile.
    for (let i = 0; i < 9; i++) {
      await vi.advanceTimersByTimeAsync(1000);
      m.watchRules();
    }
    await vi.advanceTimersByTimeAsync(PROBE_MS * 2 - POLL_MS - 9000 - 1);
    expect(nft.rules()).toHaveLength(1);
    expect(m.ruleWatch).toBe('poll');
    await vi.advanceTimersByTimeAsync(1);
    expect(nft.liveRules()).toHaveLength(1);
  });

  it('a window opened long after the last flood tries the stream first again', async () => {
    const m = await flooded({ ruleWindowMs: 3000 });
    await vi.advanceTimersByTimeAsync(3000);
    expect(m.watchingRules).toBe(false);
    await vi.advanceTimersByTimeAsync(FLOOD_MEMORY_MS);
    const before = polls;
    m.watchRules();
    expect(m.ruleWatch).toBe('stream');
    expect(nft.liveRules()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(POLL_MS * 3);
    expect(polls).toBe(before);
    // And its probe backoff starts over: a new flood probes after the first delay again.
    volume(nft.liveRules()[0], LIMIT + 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(floods.at(-1)?.probeInMs).toBe(PROBE_MS);
  });

  it('onVolume from a stopped stream is ignored', async () => {
    const m = await flooded();
    const old = nft.rules()[0]!;
    await vi.advanceTimersByTimeAsync(PROBE_MS);
    const probe = nft.rules()[1]!;
    expect(probe.running).toBe(true);

    volume(old, LIMIT * 10);
    expect(floods).toHaveLength(1);
    expect(probe.running).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calms).toBe(1);
    expect(m.ruleWatch).toBe('stream');

    volume(old, LIMIT * 10);
    expect(floods).toHaveLength(1);
    expect(m.ruleWatch).toBe('stream');
  });

  it('onVolume from the stream of a closed window is ignored in the next window', async () => {
    const m = make({ ruleWindowMs: 3000 });
    m.watchRules();
    const first = nft.rules()[0]!;
    await vi.advanceTimersByTimeAsync(3000);
    m.watchRules();
    const second = nft.rules()[1]!;
    expect(second.running).toBe(true);
    volume(first, LIMIT * 10);
    expect(floods).toEqual([]);
    expect(polls).toBe(0);
    expect(second.running).toBe(true);
    expect(m.ruleWatch).toBe('stream');
  });

  it('without a poll option there is no flood handling: no onVolume, the stream keeps running', async () => {
    const m = make({ poll: undefined });
    m.watchRules();
    const s = nft.rules()[0]!;
    expect(s.handlers.onVolume).toBeUndefined();
    expect('onVolume' in s.handlers).toBe(false);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(s.running).toBe(true);
    expect(m.ruleWatch).toBe('stream');
    expect(floods).toEqual([]);
  });

  it('stop() ends the streams, the poll and any probe', async () => {
    const m = await flooded();
    await vi.advanceTimersByTimeAsync(POLL_MS * 3);
    await m.stop();
    expect(m.running).toBe(false);
    expect(m.watchingRules).toBe(false);
    expect(m.ruleWatch).toBe('off');
    expect(nft.streams.every((s) => !s.running)).toBe(true);
    const atStop = polls;
    await vi.advanceTimersByTimeAsync(1_000_000);
    expect(polls).toBe(atStop);
    expect(nft.rules()).toHaveLength(1);
    m.watchRules();
    expect(nft.rules()).toHaveLength(1);
    expect(polls).toBe(atStop);
  });

  it('stop() while a poll is in flight schedules no further poll', async () => {
    let release: (() => void) | null = null;
    const m = await flooded({
      poll: () => {
        polls++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await m.stop();
    release!();
    await vi.advanceTimersByTimeAsync(POLL_MS * 10);
    expect(polls).toBe(1);
  });
});
