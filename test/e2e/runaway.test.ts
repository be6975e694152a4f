import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, RawAgent, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

const run = promisify(execFile);

const CONFIG = `
limits:
  task: { cost_usd: 1, mode: hard }
scopes:
  "task:flood": { cost_usd: 100, calls_per_min: 10 }
breakers:
  denials: { threshold: 3, reset: 2m, half_open: 2, user_threshold: 100 }
detectors:
  loop: { repeats: 4, window: 10m }
  fanout: { children: 2, depth: 3 }
tools:
  default: auto
  rm_rf: deny
  bash: { mode: auto, max_cost_usd: 0.05 }
`;

let daemon: DaemonProcess;

beforeAll(async () => {
  const dir = tempStateDir();
  daemon = await startDaemonProcess({ stateDir: dir, config: writeConfig(dir, CONFIG) });
});
afterAll(async () => {
  await daemon?.stop();
});

async function status(): Promise<{ scopes: Record<string, { breaker: string }> }> {
  const r = await run(process.execPath, [BIN, 'status', '--json', '--url', daemon.url, '--state-dir', daemon.stateDir]);
  return JSON.parse(r.stdout) as { scopes: Record<string, { breaker: string }> };
}

describe('runaway protection over real sockets', () => {
  it('CIRCUIT_OPEN after consecutive denials, with retry_after_ms and the breaker open in status --json', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'cb', session: 'cbs', task: 'cbt' });
    for (let i = 0; i < 3; i++) expect(await a.request({ type: 'reserve', id: `big${i}`, cost_usd: 5 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    const open = await a.request({ type: 'reserve', id: 'small', cost_usd: 0.01 });
    expect(open).toMatchObject({ type: 'deny', code: 'CIRCUIT_OPEN', scope: 'agent:cb' });
    expect(open.retry_after_ms).toBeGreaterThan(110_000);
    expect(open.retry_after_ms).toBeLessThanOrEqual(120_000);
    expect((await status()).scopes['agent:cb']?.breaker).toBe('open');
    a.close();
  });

  it('LOOP_DETECTED on the 4th identical (tool, args_hash)', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'lp', session: 'lps', task: 'lpt' });
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await a.request({ type: 'reserve', id: `l${i}`, tool: 'fetch', args_hash: 'abc', cost_usd: 0.001 });
      codes.push(r.type === 'deny' ? (r.code as string) : (r.type as string));
      if (r.type === 'grant') await a.request({ type: 'release', id: `x${i}`, reservation: r.reservation as string });
    }
    expect(codes).toEqual(['grant', 'grant', 'grant', 'LOOP_DETECTED']);
    a.close();
  });

  it('FANOUT_LIMIT at the third child', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'fo', session: 'fos', task: 'fot' });
    expect((await a.request({ type: 'delegate', id: 'd1', child: 'fo-1', limits: { cost_usd: 0.1 } })).type).toBe('delegated');
    expect((await a.request({ type: 'delegate', id: 'd2', child: 'fo-2', limits: { cost_usd: 0.1 } })).type).toBe('delegated');
    expect(await a.request({ type: 'delegate', id: 'd3', child: 'fo-3', limits: { cost_usd: 0.1 } })).toMatchObject({ type: 'deny', code: 'FANOUT_LIMIT', scope: 'agent:fo' });
    a.close();
  });

  it('RATE_LIMITED by calls_per_min with retry_after_ms', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'fl', session: 'fls', task: 'flood' });
    for (let i = 0; i < 10; i++) {
      const g = await a.request({ type: 'reserve', id: `f${i}`, cost_usd: 0.001 });
      expect(g.type).toBe('grant');
      await a.request({ type: 'release', id: `fr${i}`, reservation: g.reservation as string });
    }
    const limited = await a.request({ type: 'reserve', id: 'f10', cost_usd: 0.001 });
    expect(limited).toMatchObject({ type: 'deny', code: 'RATE_LIMITED', scope: 'task:flood' });
    expect(limited.retry_after_ms).toBeGreaterThan(50_000);
    expect(limited.retry_after_ms).toBeLessThanOrEqual(60_000);
    a.close();
  });

  it('TOOL_DENIED for a denied tool and for a call above the tool\'s max cost', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'tl', session: 'tls', task: 'tlt' });
    expect(await a.request({ type: 'reserve', id: 't1', tool: 'rm_rf', cost_usd: 0.001 })).toMatchObject({ type: 'deny', code: 'TOOL_DENIED' });
    expect(await a.request({ type: 'reserve', id: 't2', tool: 'bash', cost_usd: 0.06 })).toMatchObject({ type: 'deny', code: 'TOOL_DENIED' });
    expect((await a.request({ type: 'reserve', id: 't3', tool: 'bash', cost_usd: 0.01 })).type).toBe('grant');
    a.close();
  });
});
