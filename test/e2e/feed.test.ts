import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawAgent, startDaemonProcess, type DaemonProcess } from './daemon-process.js';

let daemon: DaemonProcess;
beforeAll(async () => {
  daemon = await startDaemonProcess();
});
afterAll(async () => {
  await daemon?.stop();
});

describe('operator feed', () => {
  it('sends a full snapshot, then coalesced deltas at most ~10 per second however fast events arrive', async () => {
    const op = await RawAgent.open(daemon.url, daemon.operatorToken, '/v1/operator');
    op.send({ type: 'subscribe', id: 'sub' });
    const full = await op.next((f) => f.type === 'feed' && f.full === true);
    expect(full.scopes).toHaveProperty('global');
    const agent = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'f1', session: 'fs', task: 'ft' });
    const started = Date.now();
    const before = op.frames.filter((f) => f.type === 'feed').length;
    for (let i = 0; i < 2_000; i++) agent.send({ type: 'spend', id: `s${i}`, key: `feed-${i}`, cost_usd: 0.0001 });
    await agent.next((f) => f.id === 's1999', 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const elapsed = Date.now() - started;
    const frames = op.frames.filter((f) => f.type === 'feed').slice(before);
    expect(frames.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2);
    const last = frames.filter((f) => (f.scopes as Record<string, unknown>)['task:ft']).at(-1) as { scopes: Record<string, { spent: { cost_usd: number }; state: string; parent: string }> };
    expect(last.scopes['task:ft']?.spent.cost_usd).toBeCloseTo(0.2, 9);
    expect(last.scopes['task:ft']?.parent).toBe('session:fs');
    expect(op.frames.some((f) => f.type === 'result' && f.id === 'sub')).toBe(true);
    agent.close();
    op.close();
  });
});
