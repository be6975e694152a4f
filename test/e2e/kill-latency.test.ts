import { afterAll, describe, expect, it } from 'vitest';
import { runKill } from '../../bench/kill.js';
import { type DaemonProcess, startDaemonProcess } from './daemon-process.js';

/**
 * The kill switch against 1,000 connected agents, through the bench's own measurement: every
 * agent receives its kill on every run and nothing is granted after it. The latency is reported,
 * not asserted — a timed assertion belongs to `npm run bench` (goal: last agent p99 ≤ 20 ms).
 */
describe('kill switch to 1,000 agents', () => {
  let daemon: DaemonProcess | undefined;
  afterAll(async () => {
    await daemon?.stop();
  });

  it('reaches every one of 1,000 agents on every run and nothing is granted after; p99 reported', async () => {
    daemon = await startDaemonProcess();
    const r = await runKill({ url: daemon.url, agentToken: daemon.agentToken, operatorToken: daemon.operatorToken, agents: 1_000, runs: 10, warmupRuns: 1 });
    console.log(`kill --all to 1,000 agents: last agent p50 ${r.lastP50Ms.toFixed(1)} ms, p99 ${r.lastP99Ms.toFixed(1)} ms over ${r.runs} runs (first kill after start: ${r.coldMs[0]?.toFixed(1)} ms)`);
    expect(r.lastMs).toHaveLength(10);
    expect(r.grantsAfterKill).toBe(0);
    expect(r.refusalsAfterKill).toEqual({ KILLED: 11_000 });
  }, 120_000);
});
