import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../daemon/config/schema.js';
import { EngineDriver } from '../../daemon/engine/testing.js';
import { Ledger } from '../../daemon/ledger/ledger.js';
import { OperatorClient } from '../../shared/client/operator.js';
import { RawAgent, runCli, startDaemonProcess, tempStateDir, waitFor, writeConfig } from '../../test/e2e/daemon-process.js';
import { queryActions } from './actions.js';
import { cutNote, renderActionsCsv, renderActionsJson, renderActionsTable } from './actions-render.js';
import { ActionReportRow } from './actions-row.js';

/** `report --actions`: genuine action rows (the engine's own), written by the daemon's Ledger, read back read-only. */

const ALICE = 'cli:alice@h1';
const BOB = 'top:bob@h2';
const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);
const MINUTE = 60_000;
const CONFIG = {
  limits: { session: { cost_usd: 1, mode: 'approval' }, task: { cost_usd: 1000, tokens: 100_000, mode: 'hard' } },
  approvals: { timeout: '10s' },
};

let dir: string;
let ledgerFile: string;

/** Every operator action kind, by two operators, the daemon and a config file; agents' prompts among them. */
function recordActions(file: string): void {
  const d = new EngineDriver(CONFIG, { now: T0 });
  const agent = d.connect({ agent: 'a1', session: 's1', task: 't1' });
  const prompt = (id: string): string => {
    const p = d.request(agent, { type: 'reserve', id, cost_usd: 10 });
    if (p.type !== 'pending') throw new Error(`expected a prompt, got ${JSON.stringify(p)}`);
    return p.prompt;
  };
  d.operator({ type: 'kill', id: 'o1', scope: 'task:t1', reason: 'runaway, again', actor: ALICE });
  d.advance(MINUTE);
  d.operator({ type: 'resume', id: 'o2', scope: 'task:t1', actor: ALICE });
  d.advance(MINUTE);
  const p1 = prompt('r1');
  d.operator({ type: 'grant', id: 'o3', target: p1, add_usd: 5, confirmed: true, actor: BOB });
  d.advance(MINUTE);
  d.operator({ type: 'grant', id: 'o4', target: 'task:t1', add_tokens: 1000, actor: BOB });
  const p2 = prompt('r2');
  d.operator({ type: 'deny', id: 'o5', prompt: p2, actor: BOB });
  d.advance(MINUTE);
  prompt('r3');
  d.advance(11_000); // nobody answers: the daemon times it out
  d.operator({ type: 'key_create', id: 'o6', scope: 'session:s1', name: 'ci-bot', agent: 'bot', actor: ALICE }, 'sgk_test-secret-000000000000000000000000000000');
  d.operator({ type: 'key_revoke', id: 'o7', target: 'ci-bot' });
  d.advance(MINUTE);
  const reload = { ...CONFIG, limits: { ...CONFIG.limits, global: { cost_usd: 50 } } };
  for (const e of d.engine.handle({ type: 'config', config: ConfigSchema.parse(reload), path: '/etc/spendguard.yaml' }, d.now)) if (e.type === 'action') d.actions.push(e.row);
  const ledger = new Ledger(file);
  ledger.write(d.ledger, d.actions, null);
  ledger.close();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-report-actions-'));
  ledgerFile = join(dir, 'ledger.db');
  recordActions(ledgerFile);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('report --actions over a ledger the engine wrote', () => {
  it('lists every operator action oldest first, who did it and what, and no agent rows', () => {
    const { rows, total } = queryActions(ledgerFile, { limit: 1000 });
    expect(total).toBe(rows.length);
    expect(rows.map((r) => [r.kind, r.scope, r.actor, r.detail])).toEqual([
      ['kill', 'task:t1', ALICE, 'runaway, again'],
      ['resume', 'task:t1', ALICE, ''],
      ['grant', 'session:s1', BOB, expect.stringMatching(/^\+\$5\.00 for p\S+$/)],
      ['prompt_answer', 'session:s1', BOB, expect.stringMatching(/^grant p\S+$/)],
      ['grant', 'task:t1', BOB, '+1,000 tokens'],
      ['prompt_answer', 'session:s1', BOB, expect.stringMatching(/^deny p\S+$/)],
      ['prompt_answer', 'session:s1', 'daemon', expect.stringMatching(/^timeout p\S+$/)],
      ['key_create', 'session:s1', ALICE, 'ci-bot as agent bot'],
      // A client that names no actor is recorded as plain 'operator'.
      ['key_revoke', 'session:s1', 'operator', 'ci-bot'],
      ['limits', 'global', 'config:/etc/spendguard.yaml', '/etc/spendguard.yaml'],
    ]);
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => a - b));
    expect(rows[0]).toMatchObject({ at: new Date(T0).toISOString(), data: { reason: 'runaway, again' } });
    expect(rows[2]?.data).toMatchObject({ cost_nano: 5_000_000_000, tokens: 0 });
    for (const r of rows) expect(ActionReportRow.parse(r)).toEqual(r);
  });

  it('tells two operators apart in the table, with local times', () => {
    const table = renderActionsTable(queryActions(ledgerFile, { limit: 1000 }).rows);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^TIME +KIND +SCOPE +ACTOR +DETAIL$/);
    const kill = lines.find((l) => l.includes(' kill '));
    const grant = lines.find((l) => l.includes('+1,000 tokens'));
    expect(kill).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +kill +task:t1 +${ALICE} +runaway, again$`));
    expect(grant).toContain(BOB);
    expect(grant).not.toContain(ALICE);
    const local = new Date(T0);
    expect(kill?.slice(11, 16)).toBe(`${String(local.getHours()).padStart(2, '0')}:${String(local.getMinutes()).padStart(2, '0')}`);
  });

  it('--since keeps only the actions from then on', () => {
    const { rows, total } = queryActions(ledgerFile, { sinceMs: T0 + 2 * MINUTE, limit: 1000 });
    expect(total).toBe(rows.length);
    expect(rows[0]?.kind).toBe('grant');
    expect(rows.some((r) => r.kind === 'kill' || r.kind === 'resume')).toBe(false);
    expect(rows.every((r) => Date.parse(r.at) >= T0 + 2 * MINUTE)).toBe(true);
    expect(queryActions(ledgerFile, { sinceMs: T0 + 60 * MINUTE, limit: 1000 })).toEqual({ rows: [], total: 0 });
    expect(renderActionsTable([])).toBe('no operator actions recorded in this period\n');
  });

  it('--limit keeps the newest, still oldest first, and says how many were left out', () => {
    const all = queryActions(ledgerFile, { limit: 1000 }).rows;
    const { rows, total } = queryActions(ledgerFile, { limit: 2 });
    expect(rows).toEqual(all.slice(-2));
    expect(total).toBe(all.length);
    expect(cutNote(rows.length, total)).toBe(`note: showing the newest 2 of ${all.length} operator actions; raise --limit or narrow --since to see the others\n`);
    expect(cutNote(all.length, all.length)).toBeNull();
  });

  it('csv quotes a detail with a comma; json is the rows as they are', () => {
    const { rows } = queryActions(ledgerFile, { limit: 1000 });
    const csv = renderActionsCsv(rows).split('\n');
    expect(csv[0]).toBe('seq,at,kind,scope,actor,detail');
    expect(csv[1]).toBe(`${rows[0]?.seq},${new Date(T0).toISOString()},kill,task:t1,${ALICE},"runaway, again"`);
    expect(csv).toHaveLength(rows.length + 2);
    expect(JSON.parse(renderActionsJson(rows))).toEqual(rows);
  });
});

describe('spendguard report --actions, the real CLI against a real daemon', () => {
  const me = `cli:${userInfo().username}@${hostname()}`;
  let stateDir: string;
  let daemon: Awaited<ReturnType<typeof startDaemonProcess>> | undefined;
  let agent: RawAgent | undefined;

  beforeAll(async () => {
    stateDir = tempStateDir('sg-report-actions-e2e-');
    daemon = await startDaemonProcess({ stateDir, config: writeConfig(stateDir, 'limits:\n  task: { cost_usd: 5, mode: hard }\n') });
  });
  afterAll(async () => {
    agent?.close();
    await daemon?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('names the CLI operator who killed and the dashboard operator who granted', async () => {
    if (!daemon) throw new Error('no daemon');
    const { url, agentToken, operatorToken } = daemon;
    agent = await RawAgent.hello(url, agentToken, { agent: 'w1', session: 's-who', task: 'who' });
    expect((await runCli(url, stateDir, ['kill', 'task:who', '--reason', 'too fast, stop'])).code).toBe(0);
    // The dashboard's identity: `top` names itself top:<user>@<host>, here another operator's.
    const top = await OperatorClient.connect({ url, token: operatorToken, timeoutMs: 5_000 });
    try {
      await top.request({ type: 'grant', target: 'task:who', add_usd: 2, actor: BOB });
    } finally {
      await top.close();
    }
    const rows = await waitFor('both actions in the ledger', async () => {
      const r = await runCli(url, stateDir, ['report', '--actions', '--format', 'json']);
      expect(r.code).toBe(0);
      const parsed = ActionReportRow.array().parse(JSON.parse(r.stdout));
      return parsed.length >= 2 ? parsed : undefined;
    });
    expect(rows.map((r) => [r.kind, r.scope, r.actor, r.detail])).toEqual([
      ['kill', 'task:who', me, 'too fast, stop'],
      ['grant', 'task:who', BOB, '+$2.00'],
    ]);
  });

  it('--actions with --by is a usage error', async () => {
    if (!daemon) throw new Error('no daemon');
    const r = await runCli(daemon.url, stateDir, ['report', '--actions', '--by', 'agent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--actions lists operator actions one by one and does not group them');
    expect((await runCli(daemon.url, stateDir, ['report', '--limit', '5'])).code).toBe(2);
  });

  it('--limit cuts to the newest and says so on stderr', async () => {
    if (!daemon) throw new Error('no daemon');
    const r = await runCli(daemon.url, stateDir, ['report', '--actions', '--limit', '1', '--format', 'csv']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]).toMatch(/^\d+,[^,]+,grant,task:who,top:bob@h2,\+\$2\.00$/);
    expect(r.stderr).toContain('note: showing the newest 1 of 2 operator actions');
  });
});
