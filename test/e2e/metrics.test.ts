import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawAgent, REPO, startDaemonProcess, tempStateDir, writeConfig, type DaemonProcess } from './daemon-process.js';

const CONFIG = `
limits:
  task: { cost_usd: 1.00, mode: hard }
scopes:
  "task:capped": { cost_usd: 0.10, mode: hard }
  "task:approve": { cost_usd: 0.01, mode: approval }
tools:
  rm: deny
breakers:
  denials: { threshold: 3, user_threshold: 1000 }   # the denials below are deliberate: only the agent breaker is under test
  burn_rate: { window: 10m, cost_usd: 100 }
pricing:
  models:
    test-model: { input: 1.0, output: 10.0 }
`;

let daemon: DaemonProcess;
const agents: RawAgent[] = [];

beforeAll(async () => {
  const dir = tempStateDir();
  daemon = await startDaemonProcess({ stateDir: dir, config: writeConfig(dir, CONFIG) });
});

afterAll(async () => {
  for (const a of agents) a.close();
  await daemon?.stop();
});

/** CI installs promtool (`.ci/run`); a missing one is a broken environment, not a reason to skip. */
function promtool(args: string[], input?: string): string {
  try {
    return execFileSync('promtool', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new Error('promtool is not on PATH: apt-get install -y prometheus (.ci/run does)');
    throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the series of `name` whose labels include `match`. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

async function scrape(): Promise<string> {
  const res = await fetch(`${daemon.url.replace('ws://', 'http://')}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

async function hello(agent: string, task: string): Promise<RawAgent> {
  const a = await RawAgent.hello(daemon.url, daemon.agentToken, { agent, session: 'metrics', task });
  agents.push(a);
  return a;
}

describe('GET /metrics', () => {
  it('serves a scrape that passes promtool during load, with denials, spend and gauges counted exactly', async () => {
    let committed = 0;
    /** 20 reserve → commit cycles on test-model and 20 spend events on gpt-x, per worker. */
    const worker = async (i: number): Promise<void> => {
      const a = await hello(`busy-${i}`, `load-${i}`);
      for (let n = 0; n < 20; n++) {
        const g = await a.request({ type: 'reserve', id: `r${n}`, model: 'test-model', input_tokens: 100, max_output_tokens: 100 });
        expect(g.type).toBe('grant');
        const ack = await a.request({ type: 'commit', id: `c${n}`, reservation: g.reservation as string, model: 'test-model', input_tokens: 100, output_tokens: 50, cost_usd: 0.001 });
        expect(ack).toMatchObject({ type: 'ack', duplicate: false });
        await a.request({ type: 'spend', id: `s${n}`, key: `busy-${i}-s${n}`, model: 'gpt-x', input_tokens: 10, output_tokens: 5, cost_usd: 0.002 });
        committed += 1;
      }
    };
    /** 3 grants fill task:capped to $0.09; 3 BUDGET_EXCEEDED trip the agent's breaker; then CIRCUIT_OPEN. */
    const denied = async (): Promise<string[]> => {
      const a = await hello('denied', 'capped');
      const codes: string[] = [];
      for (let n = 0; n < 7; n++) {
        const r = await a.request({ type: 'reserve', id: `r${n}`, cost_usd: 0.03 });
        if (r.type === 'grant') await a.request({ type: 'commit', id: `c${n}`, reservation: r.reservation as string, input_tokens: 0, output_tokens: 0, cost_usd: 0.03 });
        else codes.push(r.code as string);
      }
      return codes;
    };
    /** 2 TOOL_DENIED, then a reservation committed above its amount: one overshoot. */
    const tooler = async (): Promise<void> => {
      const a = await hello('tooler', 'tools');
      for (let n = 0; n < 2; n++) expect(await a.request({ type: 'reserve', id: `t${n}`, tool: 'rm', cost_usd: 0.001 })).toMatchObject({ type: 'deny', code: 'TOOL_DENIED' });
      const g = await a.request({ type: 'reserve', id: 'r', cost_usd: 0.01 });
      expect(await a.request({ type: 'commit', id: 'c', reservation: g.reservation as string, input_tokens: 0, output_tokens: 0, cost_usd: 0.02 })).toMatchObject({ type: 'ack' });
    };
    const asker = async (): Promise<void> => {
      const a = await hello('asker', 'approve');
      const pending = a.next((f) => f.type === 'pending');
      a.send({ type: 'reserve', id: 'big', cost_usd: 0.05 });
      await pending;
    };

    const load = Promise.all([worker(1), worker(2), worker(3), denied(), tooler(), asker()]);
    const deadline = Date.now() + 10_000;
    while (committed < 15 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(committed, 'the scrape below is taken while the load runs').toBeLessThan(60);
    const during = await scrape();
    const codes = (await load)[3];
    expect(codes).toEqual(['BUDGET_EXCEEDED', 'BUDGET_EXCEEDED', 'BUDGET_EXCEEDED', 'CIRCUIT_OPEN']);

    promtool(['check', 'metrics'], during);
    const mid = parse(during);
    expect(total(mid, 'spendguard_grants_total')).toBeGreaterThan(0);
    expect(total(mid, 'spendguard_reserve_latency_seconds_count')).toBeGreaterThan(0);

    const after = await scrape();
    promtool(['check', 'metrics'], after);
    const s = parse(after);
    expect(total(s, 'spendguard_denials_total', { code: 'BUDGET_EXCEEDED' })).toBe(3);
    expect(total(s, 'spendguard_denials_total', { code: 'CIRCUIT_OPEN' })).toBe(1);
    expect(total(s, 'spendguard_denials_total', { code: 'TOOL_DENIED' })).toBe(2);
    expect(total(s, 'spendguard_budget_exceeded_total', { scope_kind: 'task' })).toBe(3);
    // 3 × 20 × ($0.001 + $0.002) + 3 × $0.03 + $0.02
    expect(total(s, 'spendguard_spend_usd_total', { scope_kind: 'global' })).toBeCloseTo(0.29, 9);
    expect(total(s, 'spendguard_spend_usd_total', { scope_kind: 'task', model: 'test-model' })).toBeCloseTo(0.06, 9);
    expect(total(s, 'spendguard_spend_usd_total', { scope_kind: 'global', model: 'gpt-x' })).toBeCloseTo(0.12, 9);
    expect(total(s, 'spendguard_spend_usd_total', { scope_kind: 'global', model: 'none' })).toBeCloseTo(0.11, 9);
    expect(total(s, 'spendguard_tokens_total', { scope_kind: 'global', model: 'test-model', type: 'output' })).toBe(3000);
    expect(total(s, 'spendguard_grants_total')).toBe(3 * 20 + 3 + 1);
    expect(total(s, 'spendguard_backpressure_delay_seconds_count')).toBe(64);
    expect(total(s, 'spendguard_reserve_latency_seconds_count')).toBe(64 + 6);
    expect(total(s, 'spendguard_overshoot_total')).toBe(1);
    expect(total(s, 'spendguard_agents_connected')).toBe(6);
    expect(total(s, 'spendguard_prompts_pending')).toBe(1);
    expect(total(s, 'spendguard_breakers', { state: 'open' })).toBe(1);
    expect(total(s, 'spendguard_ledger_batch_duration_seconds_count')).toBeGreaterThan(0);
    expect(total(s, 'spendguard_scope_pressure_ratio', { scope: 'task:capped' })).toBeCloseTo(0.9, 6);
    expect(total(s, 'spendguard_scope_breaker_state', { scope: 'global', state: 'closed' })).toBe(1);
    expect(total(s, 'spendguard_burn_breaker_pace_usd_per_minute', { window: '10m' })).toBeCloseTo(10, 9);
    expect(total(s, 'spendguard_process_cpu_seconds_total')).toBeGreaterThan(0);
    // Bounded labels: only global and the configured scopes, never a per-agent or per-task series.
    const scopes = new Set(s.filter((x) => x.labels.scope !== undefined).map((x) => x.labels.scope));
    expect([...scopes].sort()).toEqual(['global', 'task:approve', 'task:capped']);
  }, 30_000);

  it('ships Prometheus alerting rules that pass promtool check rules', () => {
    const out = promtool(['check', 'rules', join(REPO, 'examples', 'prometheus', 'alerts.yml')]);
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });
});
