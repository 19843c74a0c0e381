import { fc, test as fcTest } from '@fast-check/vitest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReconcileLoop, type Trigger } from '../../daemon/src/daemon/loop.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(() => {
  vi.useRealTimers();
});

describe('ReconcileLoop', () => {
  it('never runs two passes at once and coalesces a burst into one more pass', async () => {
    let active = 0;
    let maxActive = 0;
    const gates: Array<() => void> = [];
    const seen: Trigger[][] = [];
    const loop = new ReconcileLoop({
      pass: async (triggers) => {
        seen.push(triggers);
        active++;
        maxActive = Math.max(maxActive, active);
        const d = deferred();
        gates.push(d.resolve);
        await d.promise;
        active--;
      },
    });
    loop.trigger('start');
    await vi.waitFor(() => expect(gates.length).toBe(1));
    for (let i = 0; i < 100; i++) loop.trigger(i % 2 ? 'file' : 'drift');
    gates[0]!();
    await vi.waitFor(() => expect(gates.length).toBe(2));
    gates[1]!();
    await loop.whenIdle();
    expect(maxActive).toBe(1);
    expect(seen).toEqual([['start'], ['drift', 'file']]);
    expect(loop.passes).toBe(2);
  });

  fcTest.prop(
    [
      fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 4 })), {
        minLength: 1,
        maxLength: 25,
      }),
    ],
    {
      numRuns: 25,
    },
  )('the last pass always sees the last write', async (writes) => {
    let content = -1;
    let lastSeen = -2;
    const loop = new ReconcileLoop({
      pass: async () => {
        const read = content;
        await sleep(read % 3);
        lastSeen = read;
      },
    });
    for (const [value, delay] of writes) {
      content = value;
      loop.trigger('file');
      if (delay) await sleep(delay);
    }
    await loop.whenIdle();
    expect(lastSeen).toBe(writes[writes.length - 1]![0]);
  });

  it('retries a failed pass after the delay it asks for; machine triggers wait, operator triggers do not', async () => {
    vi.useFakeTimers();
    const seen: Trigger[][] = [];
    let fail = true;
    const loop = new ReconcileLoop({
      pass: async (triggers) => {
        seen.push(triggers);
        return fail ? { retryAfterMs: 1000 } : {};
      },
    });
    loop.trigger('start');
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([['start']]);
    expect(loop.retrying).toBe(true);
    loop.trigger('drift');
    loop.trigger('resync');
    await vi.advanceTimersByTimeAsync(500);
    expect(seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(seen).toEqual([['start'], ['drift', 'resync', 'retry']]);
    loop.trigger('file');
    await vi.advanceTimersByTimeAsync(1);
    expect(seen[2]).toEqual(['file']);
    fail = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen[3]).toEqual(['retry']);
    expect(loop.retrying).toBe(false);
    await loop.whenIdle();
  });

  it('a pass that throws is reported and retried', async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    let calls = 0;
    const loop = new ReconcileLoop({
      crashRetryMs: 100,
      onPassError: (e) => errors.push(e),
      pass: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
    });
    loop.trigger('start');
    await vi.advanceTimersByTimeAsync(1);
    expect(errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
  });

  it('an operator trigger that arrives during a failing pass runs at once instead of waiting for the retry', async () => {
    vi.useFakeTimers();
    const seen: Trigger[][] = [];
    let loop!: ReconcileLoop;
    loop = new ReconcileLoop({
      pass: async (triggers) => {
        seen.push(triggers);
        if (seen.length === 1) loop.trigger('sighup');
        return seen.length === 1 ? { retryAfterMs: 30_000 } : {};
      },
    });
    loop.trigger('start');
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([['start'], ['sighup']]);
    expect(loop.retrying).toBe(false);
  });

  it('stop() waits for the running pass and runs nothing afterwards', async () => {
    const gate = deferred();
    let finished = false;
    let calls = 0;
    const loop = new ReconcileLoop({
      pass: async () => {
        calls++;
        await gate.promise;
        finished = true;
      },
    });
    loop.trigger('start');
    await vi.waitFor(() => expect(calls).toBe(1));
    loop.trigger('file');
    const stopping = loop.stop();
    let stoppedEarly = false;
    void stopping.then(() => (stoppedEarly = !finished));
    await sleep(5);
    gate.resolve();
    await stopping;
    expect(stoppedEarly).toBe(false);
    expect(finished).toBe(true);
    loop.trigger('file');
    await sleep(5);
    expect(calls).toBe(1);
  });

  it('settles for settleMs before a pass so an editor burst is read once', async () => {
    vi.useFakeTimers();
    const seen: Trigger[][] = [];
    const loop = new ReconcileLoop({ settleMs: 5, pass: async (t) => void seen.push(t) });
    loop.trigger('file');
    await vi.advanceTimersByTimeAsync(2);
    loop.trigger('file');
    loop.trigger('sighup');
    expect(seen).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(3);
    expect(seen).toEqual([['file', 'sighup']]);
  });

  it('busyFor() grows while a pass hangs (the watchdog stops pinging)', async () => {
    let t = 0;
    const gate = deferred();
    const loop = new ReconcileLoop({ now: () => t, pass: () => gate.promise });
    expect(loop.busyFor()).toBe(0);
    loop.trigger('start');
    await vi.waitFor(() => expect(loop.passes).toBe(1));
    t = 5000;
    expect(loop.busyFor()).toBe(5000);
    gate.resolve();
    await loop.whenIdle();
    expect(loop.busyFor()).toBe(0);
  });
});
