import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawAgent, startDaemonProcess, tempStateDir, writeConfig, runCli, type CliRun, type DaemonProcess } from './daemon-process.js';


const CONFIG = `
limits:
  session: { cost_usd: 1.00, mode: approval }
  task: { cost_usd: 10, mode: hard }
scopes:
  "session:bp": { cost_usd: 100, mode: hard }
  "task:reload": { cost_usd: 0.10, mode: hard }
approvals: { timeout: 60s, increment_usd: 1 }
# The reload test polls with reserves that are denied until the new limit applies; the denial
# breaker must not open on them.
breakers: { denials: { threshold: 1000 } }
`;

let daemon: DaemonProcess;
let stateDir: string;
let configPath: string;

function cli(...args: string[]): Promise<CliRun> {
  return runCli(daemon.url, stateDir, args);
}

beforeAll(async () => {
  stateDir = tempStateDir();
  configPath = writeConfig(stateDir, CONFIG);
  daemon = await startDaemonProcess({ stateDir, config: configPath });
});

afterAll(async () => {
  await daemon?.stop();
});

describe('operator over the CLI', () => {
  it('kill reaches the agent, denies KILLED, spares other scopes, survives a restart; resume lifts it', async () => {
    const victim = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'k1', session: 'ks1', task: 'kt1' });
    const bystander = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'k2', session: 'ks2', task: 'kt2' });
    const killFrame = victim.next((f) => f.type === 'kill');
    const r = await cli('kill', 'task:kt1', '--reason', 'retry loop');
    expect(r.code).toBe(0);
    expect(await killFrame).toMatchObject({ type: 'kill', scope: 'task:kt1', reason: 'retry loop' });
    expect(await victim.request({ type: 'reserve', id: 'x1', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'KILLED', scope: 'task:kt1' });
    expect((await bystander.request({ type: 'reserve', id: 'y1', cost_usd: 0.01 })).type).toBe('grant');
    expect(bystander.frames.some((f) => f.type === 'kill')).toBe(false);
    victim.close();
    bystander.close();

    await daemon.stop();
    daemon = await startDaemonProcess({ stateDir, config: configPath });
    const again = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'k1', session: 'ks1', task: 'kt1' });
    expect(await again.next((f) => f.type === 'kill')).toMatchObject({ scope: 'task:kt1' });
    expect(await again.request({ type: 'reserve', id: 'x2', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'KILLED' });
    const status = JSON.parse((await cli('status', '--json')).stdout) as { scopes: Record<string, { killed: boolean }> };
    expect(status.scopes['task:kt1']?.killed).toBe(true);
    expect((await cli('resume', 'task:kt1')).code).toBe(0);
    expect((await again.request({ type: 'reserve', id: 'x3', cost_usd: 0.01 })).type).toBe('grant');
    again.close();
  });

  it('approval-mode overdraft: pending + prompt; grant --add-usd 1 raises the limit by exactly $1 and grants', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'ap1', session: 'as1', task: 'at1' });
    expect((await a.request({ type: 'reserve', id: 'r0', cost_usd: 0.8 })).type).toBe('grant');
    const pendingFrame = a.next((f) => f.type === 'pending');
    const final = a.request({ type: 'reserve', id: 'r1', cost_usd: 0.5 });
    const pending = await pendingFrame;
    const prompts = JSON.parse((await cli('prompts', '--json')).stdout) as Array<{ id: string; scope: string; agent: string; cost_usd: number; age_ms: number; reason: string }>;
    const p = prompts.find((x) => x.id === pending.prompt);
    expect(p).toMatchObject({ scope: 'session:as1', agent: 'agent:ap1', cost_usd: 0.5 });
    expect(p?.reason).toContain('session:as1');
    const granted = await cli('grant', p?.id as string, '--add-usd', '1');
    expect(granted.code, granted.stderr).toBe(0);
    expect(await final).toMatchObject({ type: 'grant', id: 'r1', cost_usd: 0.5 });
    const status = JSON.parse((await cli('status', '--json')).stdout) as { scopes: Record<string, { limit: { cost_usd: number } }> };
    expect(status.scopes['session:as1']?.limit.cost_usd).toBe(2);
    expect(JSON.parse((await cli('prompts', '--json')).stdout)).toEqual([]);
    a.close();
  });

  it('deny answers APPROVAL_DENIED; an unanswered prompt ends in APPROVAL_TIMEOUT at the configured timeout', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'ap2', session: 'as2', task: 'at2' });
    const pendingFrame = a.next((f) => f.type === 'pending' && f.id === 'big');
    const denied = a.request({ type: 'reserve', id: 'big', cost_usd: 1.5 });
    const pending = await pendingFrame;
    expect((await cli('deny', pending.prompt as string)).code).toBe(0);
    expect(await denied).toMatchObject({ type: 'deny', code: 'APPROVAL_DENIED', scope: 'session:as2' });

    a.close();

    // The timeout: a daemon of its own with a short one, so slow CLI calls above cannot race it.
    const dir = tempStateDir();
    const quick = await startDaemonProcess({ stateDir: dir, config: writeConfig(dir, CONFIG.replace('timeout: 60s', 'timeout: 2s')) });
    try {
      const b = await RawAgent.hello(quick.url, quick.agentToken, { agent: 'ap3', session: 'as3', task: 'at3' });
      const started = Date.now();
      const timedOut = await b.request({ type: 'reserve', id: 'big2', cost_usd: 1.5 }, 15_000);
      const waited = Date.now() - started;
      expect(timedOut).toMatchObject({ type: 'deny', code: 'APPROVAL_TIMEOUT', scope: 'session:as3' });
      expect(waited).toBeGreaterThanOrEqual(1_900);
      b.close();
    } finally {
      await quick.stop();
    }
  });

  it('delegation moves budget over real sockets; a second connection as the child is ALIASED; the remainder returns on bye', async () => {
    const parent = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'dp', session: 'ds', task: 'dt' });
    // task cap is $10 (hard); session $1 approval: stay under the session to keep this about delegation.
    expect(await parent.request({ type: 'delegate', id: 'd1', child: 'dc', limits: { cost_usd: 0.6 } })).toMatchObject({ type: 'delegated', child: 'dc', limits: { cost_usd: 0.6 } });
    // Only $0.40 of the session's $1 is left to the parent: its $0.50 needs the operator.
    const parentPending = parent.next((f) => f.type === 'pending' && f.id === 'p1');
    const parentTry = parent.request({ type: 'reserve', id: 'p1', cost_usd: 0.5 });
    await cli('deny', (await parentPending).prompt as string);
    expect(await parentTry).toMatchObject({ type: 'deny', code: 'APPROVAL_DENIED' });
    const child = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'dc', session: 'ds', task: 'dt', parent: 'dp' });
    expect(await child.request({ type: 'reserve', id: 'c1', cost_usd: 0.7 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'agent:dc' });
    const alias = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'dc', session: 'ds', task: 'dt', parent: 'dp' });
    expect(await alias.request({ type: 'reserve', id: 'a1', cost_usd: 0.1 })).toMatchObject({ type: 'deny', code: 'ALIASED' });
    alias.close();
    const g = await child.request({ type: 'reserve', id: 'c2', cost_usd: 0.5 });
    expect(g.type).toBe('grant');
    await child.request({ type: 'commit', id: 'c3', reservation: g.reservation as string, input_tokens: 0, output_tokens: 0, cost_usd: 0.2 });
    child.send({ type: 'bye' });
    await new Promise<void>((resolve) => child.ws.once('close', () => resolve()));
    // 0.2 spent by the child, 0.4 returned: the parent now has $0.80 of the session's $1.
    expect((await parent.request({ type: 'reserve', id: 'p2', cost_usd: 0.8 })).type).toBe('grant');
    parent.close();
  });

  it('backpressure delay_ms follows the configured tiers exactly', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'bp1', session: 'bp', task: 'bpt' });
    // The task cap is $10: steps to 79 %, 81 %, 85 %, 90 %, 95 %, 100 % of it.
    const steps = [7.9, 0.2, 0.4, 0.5, 0.5, 0.5];
    const delays: number[] = [];
    for (const [i, usd] of steps.entries()) {
      const g = await a.request({ type: 'reserve', id: `b${i}`, cost_usd: usd });
      expect(g.type).toBe('grant');
      delays.push(g.delay_ms as number);
    }
    expect(delays).toEqual([0, 50, 300, 750, 1500, 5000]);
    a.close();
  });

  it('a raised limit in the watched config applies within 2 s; a broken config keeps the last good one', async () => {
    const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'rl1', session: 'rs', task: 'reload' });
    expect(await a.request({ type: 'reserve', id: 'r1', cost_usd: 0.5 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    writeFileSync(configPath, CONFIG.replace('"task:reload": { cost_usd: 0.10', '"task:reload": { cost_usd: 0.60'));
    const t0 = Date.now();
    let granted = false;
    for (let i = 0; !granted && Date.now() - t0 < 2_000; i++) {
      granted = (await a.request({ type: 'reserve', id: `poll${i}`, cost_usd: 0.5 })).type === 'grant';
      if (!granted) await new Promise((r) => setTimeout(r, 50));
    }
    expect(granted).toBe(true);
    writeFileSync(configPath, `${CONFIG}\nlimits: [this is not valid\n`);
    let error: string | null = null;
    for (const t1 = Date.now(); error === null && Date.now() - t1 < 3_000; ) {
      error = (JSON.parse((await cli('status', '--json')).stdout) as { config: { error: string | null } }).config.error;
    }
    expect(error).toMatch(/config\.yaml:\d+:\d+/);
    // Still the last good config: $0.60 for this task, $0.50 used.
    expect((await a.request({ type: 'reserve', id: 'after', cost_usd: 0.05 })).type).toBe('grant');
    expect(await a.request({ type: 'reserve', id: 'after2', cost_usd: 0.1 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
    writeFileSync(configPath, CONFIG);
    a.close();
  });
});
