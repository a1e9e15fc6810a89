import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConnectionRateLimiter, MAX_TRACKED_ADDRESSES, rateLimitConfig, type RateLimitConfig } from '../../src/server/admission.js';

describe('rateLimitConfig: VyOS limits → accel-ppp connlimit numbers', () => {
  it('defaults are accel-ppp\'s: burst 3, one per 5 s, start over after 60 s', () => {
    assert.deepEqual(rateLimitConfig({}), { burst: 3, spacingMs: 5000, timeoutMs: 60_000 });
  });
  it('N/sec|min|hour becomes period / N in whole milliseconds', () => {
    assert.deepEqual(rateLimitConfig({ rate: { count: 1, periodS: 60 }, burst: 100, timeoutS: 20 }), { burst: 100, spacingMs: 60_000, timeoutMs: 20_000 });
    assert.equal(rateLimitConfig({ rate: { count: 3, periodS: 1 } }).spacingMs, 333);
    assert.equal(rateLimitConfig({ rate: { count: 10, periodS: 3600 } }).spacingMs, 360_000);
  });
});

describe('ConnectionRateLimiter (accel-ppp connlimit semantics)', () => {
  const cfg: RateLimitConfig = { burst: 3, spacingMs: 1000, timeoutMs: 10_000 };

  it('the burst passes, then one per spacing, refused attempts count, a pause starts over', () => {
    const l = new ConnectionRateLimiter(cfg);
    assert.deepEqual([0, 1, 2].map((t) => l.admit('192.0.2.1', t)), [true, true, true], 'the burst');
    assert.equal(l.admit('192.0.2.1', 3), false, 'the 4th within the spacing of the window start');
    assert.equal(l.admit('198.51.100.1', 3), true, 'another address has its own count');
    assert.equal(l.admit('192.0.2.1', 1000), true, 'a spacing after the window opened');
    assert.equal(l.admit('192.0.2.1', 1500), false, 'the spacing counts from the last one that passed');
    assert.equal(l.admit('192.0.2.1', 2000), true);
    assert.equal(l.admit('192.0.2.1', 12_000), true, 'timeout after the last pass: a new window');
    assert.equal(l.admit('192.0.2.1', 12_001), true, 'and a new burst');
  });

  it('a reload changes the numbers and keeps the counts', () => {
    const l = new ConnectionRateLimiter({ burst: 1, spacingMs: 60_000, timeoutMs: 600_000 });
    assert.equal(l.admit('192.0.2.1', 0), true);
    assert.equal(l.admit('192.0.2.1', 1), false);
    l.setConfig({ burst: 1, spacingMs: 10, timeoutMs: 600_000 });
    assert.equal(l.admit('192.0.2.1', 20), true);
  });

  it('windows past the timeout are forgotten; the table never grows past its cap', () => {
    const l = new ConnectionRateLimiter(cfg);
    for (let i = 0; i < 1000; i++) l.admit(`10.0.${i >> 8}.${i & 255}`, i);
    assert.equal(l.tracked, 1000);
    l.admit('192.0.2.1', 10_500);
    assert.equal(l.tracked, 500, 'the windows opened before 500 ms are gone');
    const big = new ConnectionRateLimiter(cfg);
    for (let i = 0; i < MAX_TRACKED_ADDRESSES + 10; i++) big.admit(String(i), 0);
    assert.equal(big.tracked, MAX_TRACKED_ADDRESSES);
  });

  it('property: per address, never more than burst + elapsed/spacing + 1 pass within one window', () => {
    fc.assert(
      fc.property(
        fc.record({ burst: fc.integer({ min: 1, max: 5 }), spacingMs: fc.integer({ min: 1, max: 500 }) }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 50 })), { maxLength: 200 }),
        ({ burst, spacingMs }, steps) => {
          const timeoutMs = 1_000_000; // longer than any run: one window per address
          const l = new ConnectionRateLimiter({ burst, spacingMs, timeoutMs });
          const passed = new Map<number, number[]>();
          let now = 0;
          for (const [who, dt] of steps) {
            now += dt;
            if (l.admit(`192.0.2.${who}`, now)) passed.set(who, [...(passed.get(who) ?? []), now]);
          }
          for (const times of passed.values()) {
            const span = times[times.length - 1]! - times[0]!;
            assert.ok(times.length <= burst + Math.floor(span / spacingMs) + 1, JSON.stringify({ burst, spacingMs, times }));
          }
          // The first attempt of every address passes.
          const firsts = new Set(steps.map(([w]) => w));
          for (const w of firsts) assert.ok(passed.has(w));
        },
      ),
    );
  });
});
