import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { OperatorClient } from '../../shared/client/operator.js';
import { RawAgent, startDaemonProcess, tempStateDir, writeConfig } from './daemon-process.js';

/**
 * A delegation is budget that moved, not a reservation: a daemon killed with SIGKILL and
 * restarted still caps the child at what it was given and still keeps the parent from spending
 * it; the child's `bye` returns the unspent rest as before.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('delegation across a restart', () => {
  it('keeps the child capped and the delegated amount away from the parent after SIGKILL; bye returns the rest', async () => {
    const stateDir = tempStateDir('sg-restart-');
    dirs.push(stateDir);
    const config = writeConfig(stateDir, 'limits:\n  task: { cost_usd: 1, mode: hard }\n  session: { cost_usd: 100, mode: hard }\n');
    let daemon = await startDaemonProcess({ stateDir, config });
    const parent = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'rp', session: 'rs', task: 'rt' });
    expect(await parent.request({ type: 'delegate', id: 'd1', child: 'rc', limits: { cost_usd: 0.3 } })).toMatchObject({ type: 'delegated' });
    const child = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'rc', session: 'rs', task: 'rt', parent: 'rp' });
    expect(await child.request({ type: 'spend', id: 's1', key: 'rc-1', cost_usd: 0.1 })).toMatchObject({ type: 'ack', duplicate: false });
    await daemon.kill9();
    parent.close();
    child.close();

    daemon = await startDaemonProcess({ stateDir, config });
    try {
      const child2 = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'rc', session: 'rs', task: 'rt', parent: 'rp' });
      // $0.20 of the $0.30 is left to the child; the task has $0.90 left in all.
      expect(await child2.request({ type: 'reserve', id: 'c1', cost_usd: 0.25 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED', scope: 'agent:rc' });
      expect((await child2.request({ type: 'reserve', id: 'c2', cost_usd: 0.2 })).type).toBe('grant');
      const parent2 = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'rp', session: 'rs', task: 'rt' });
      // The parent may use $1 − $0.10 spent − $0.20 still delegated = $0.70 (the child's reservation
      // draws on the delegation, not on the parent): $0.70 fits, $0.71 does not.
      expect(await parent2.request({ type: 'reserve', id: 'p1', cost_usd: 0.71 })).toMatchObject({ type: 'deny', code: 'BUDGET_EXCEEDED' });
      const g = await parent2.request({ type: 'reserve', id: 'p2', cost_usd: 0.7 });
      expect(g.type).toBe('grant');
      await parent2.request({ type: 'release', id: 'p3', reservation: g.reservation as string });
      child2.send({ type: 'bye' });
      await new Promise<void>((resolve) => child2.ws.once('close', () => resolve()));
      // The child's $0.20 came back with bye: the parent can now reserve $0.90.
      expect((await parent2.request({ type: 'reserve', id: 'p4', cost_usd: 0.9 })).type).toBe('grant');
      parent2.close();
    } finally {
      await daemon.stop();
    }
  });

  it('a kill acknowledged to the operator survives SIGKILL: the restarted daemon still refuses KILLED', async () => {
    const stateDir = tempStateDir('sg-restart-kill-');
    dirs.push(stateDir);
    let daemon = await startDaemonProcess({ stateDir });
    const op = await OperatorClient.connect({ url: daemon.url, token: daemon.operatorToken });
    expect(await op.request({ type: 'kill', scope: 'task:kt', reason: 'runaway', create: true })).toMatchObject({ ok: true });
    await daemon.kill9();
    await op.close().catch(() => {});
    daemon = await startDaemonProcess({ stateDir });
    try {
      const agent = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'ka', session: 'ks', task: 'kt' });
      expect(await agent.request({ type: 'reserve', id: 'r', cost_usd: 0.01 })).toMatchObject({ type: 'deny', code: 'KILLED', scope: 'task:kt' });
      const other = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'kb', session: 'ks', task: 'other' });
      expect((await other.request({ type: 'reserve', id: 'r', cost_usd: 0.01 })).type).toBe('grant');
      agent.close();
      other.close();
    } finally {
      await daemon.stop();
    }
  });

  it('a graceful stop saves the key filter: the next start reads no key, and a spend resent under an old key still counts once', async () => {
    const stateDir = tempStateDir('sg-restart-keys-');
    dirs.push(stateDir);
    let daemon = await startDaemonProcess({ stateDir });
    const agent = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'fa', session: 'fs', task: 'ft' });
    for (let i = 0; i < 30; i++) expect(await agent.request({ type: 'spend', id: `s${i}`, key: `filter-${i}`, cost_usd: 0.01 })).toMatchObject({ type: 'ack', duplicate: false });
    agent.close();
    await daemon.stop();
    daemon = await startDaemonProcess({ stateDir });
    try {
      expect(daemon.logs()).toMatch(/"keys_read":0\b/);
      const again = await RawAgent.hello(daemon.url, daemon.agentToken, { agent: 'fa', session: 'fs', task: 'ft' });
      expect(await again.request({ type: 'spend', id: 'r', key: 'filter-17', cost_usd: 0.01 })).toMatchObject({ type: 'ack', duplicate: true });
      expect(await again.request({ type: 'spend', id: 'n', key: 'filter-new', cost_usd: 0.01 })).toMatchObject({ type: 'ack', duplicate: false });
      again.close();
    } finally {
      await daemon.stop();
    }
  });
});
