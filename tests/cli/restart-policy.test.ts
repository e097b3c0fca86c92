import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../cli/restart-policy.ts';

describe('npm start restart policy', () => {
  it('backs off 1, 2, 4, 8, 16 s and gives up on the sixth exit within ten minutes', () => {
    const policy = new RestartPolicy();
    const t0 = 1_000_000;
    const decisions = [0, 1, 2, 3, 4, 5].map((i) => policy.onExit(t0 + i * 1_000));
    expect(decisions.slice(0, 5).map((d) => (d.restart ? d.delayMs : null))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(decisions[5]).toEqual({ restart: false, exitsInWindow: 6 });
  });

  it('caps the delay at 30 s', () => {
    const policy = new RestartPolicy(10);
    const delays = [0, 1, 2, 3, 4, 5, 6].map((i) => policy.onExit(i)).map((d) => (d.restart ? d.delayMs : null));
    expect(delays.slice(5)).toEqual([30_000, 30_000]);
  });

  it('forgets exits older than the window, so a service that crashes rarely is always restarted quickly', () => {
    const policy = new RestartPolicy();
    const elevenMinutes = 11 * 60_000;
    for (let i = 0; i < 20; i++) {
      const d = policy.onExit(i * elevenMinutes);
      expect(d).toEqual({ restart: true, delayMs: 1_000, exitsInWindow: 1 });
    }
  });
});
