import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { LEDGER_DDL } from '../daemon/ledger/schema.js';
import { DaemonUnreachableError, OperatorClient, OperatorError, resolveConnection } from '../shared/client/operator.js';
import type { StatusJson } from '../shared/protocol/operator.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'spendguard.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `spendguard` command, asynchronously so an in-test fake daemon keeps serving. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      // A private state dir: never read the developer's real daemon.json or token.
      env: { PATH: process.env.PATH, SPENDGUARD_STATE_DIR: scratch, TZ: 'UTC', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'spendguard-cli-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

// ---- a fake daemon speaking the operator protocol ----

const STATUS: StatusJson = {
  agents: 3,
  prompts: 2,
  config: { path: '/etc/spendguard.yaml', loaded_at: 1_700_000_000_000, error: null },
  ledger: { writable: true, error: null, since_ms: null },
  scopes: {
    global: {
      limit: { per_day: { cost_usd: 20 } },
      spent: { cost_usd: 3.42, per_day: { cost_usd: 3.42 } },
      reserved: { cost_usd: 0.1 },
      pressure: 'ok',
      ratio: 0.176,
      killed: false,
      killed_by: null,
      parent: null,
      breaker: 'closed',
      mode: 'hard',
      agents: 3,
      burn_usd_per_min_1m: 0.21,
      burn_usd_per_min_10m: 0.18,
      burn_tokens_per_min_1m: null,
      burn_tokens_per_min_10m: null,
      exhaustion_ms: null,
    },
    'task:t-7': {
      limit: { cost_usd: 1, tokens: 100_000 },
      spent: { cost_usd: 0.93, tokens: 12_000 },
      reserved: { cost_usd: 0, tokens: 0 },
      pressure: 'critical',
      ratio: 0.93,
      killed: true,
      killed_by: 'task:t-7',
      parent: null,
      breaker: 'open',
      mode: 'hard',
      agents: 1,
      burn_usd_per_min_1m: null,
      burn_usd_per_min_10m: null,
      burn_tokens_per_min_1m: null,
      burn_tokens_per_min_10m: null,
      exhaustion_ms: 90_000,
    },
  },
};

interface FakeDaemon {
  url: string;
  frames: unknown[];
  headers: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** Answers status/prompts with fixtures, `deny p-unknown` with an error frame, anything else with ok. */
async function fakeDaemon(options: { token?: string } = {}): Promise<FakeDaemon> {
  const frames: unknown[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req, socket, head) => {
    headers.push(req.headers);
    if (req.url !== '/v1/operator' || (options.token && req.headers.authorization !== `Bearer ${options.token}`)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws));
  });
  const serve = (ws: WebSocket): void => {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id: string; prompt?: string };
      frames.push(frame);
      const reply = (extra: object): void => ws.send(JSON.stringify({ type: 'result', id: frame.id, ok: true, ...extra }));
      if (frame.type === 'status') reply({ message: 'status', status: { ...STATUS, extra_field: 'kept' } });
      else if (frame.type === 'prompts') reply({ message: 'prompts', prompts: PROMPTS });
      else if (frame.type === 'deny' && frame.prompt === 'p-unknown') {
        ws.send(JSON.stringify({ type: 'error', id: frame.id, code: 'INVALID', message: 'no pending prompt p-unknown' }));
      } else reply({ message: `${frame.type} done` });
    });
  };
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    frames,
    headers,
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
}

const PROMPTS = [
  {
    id: 'p-1',
    scope: 'session:s-42',
    agent: 'research-1',
    reason: 'session cost_usd limit $5 would be exceeded',
    cost_usd: 0.42,
    tokens: 12_000,
    age_ms: 15_000,
    expires_in_ms: 105_000,
    projected_usd: 5.3,
  },
];

// ---- usage errors: exit 2 ----

describe.concurrent('usage errors exit 2', () => {
  it('rejects an unknown flag', async () => {
    const r = await cli(['status', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
  });

  it.each([['-1'], ['0'], ['0.00'], ['abc'], ['1e3'], ['1000001'], ['Infinity'], ['']])('rejects --add-usd %j naming the flag', async (value) => {
    const r = await cli(['grant', 'p-1', '--add-usd', value]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--add-usd');
  });

  it.each([['1.5'], ['0']])('rejects --add-tokens %j', async (value) => {
    const r = await cli(['grant', 'p-1', '--add-tokens', value]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--add-tokens');
  });

  it('refuses kill --all --create: a pre-emptive kill names one scope', async () => {
    const r = await cli(['kill', '--all', '--create']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--create');
  });

  it('refuses grant --create of a prompt id: --create names a scope', async () => {
    const r = await cli(['grant', 'p-1', '--create']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--create applies to a scope');
  });

  it.each([['usr:alice'], ['session:'], ['session:a b'], ['GLOBAL']])('rejects the scope %j', async (scope) => {
    const r = await cli(['kill', scope]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be global or kind:id');
  });

  it('requires exactly one of a scope and --all', async () => {
    expect((await cli(['kill'])).code).toBe(2);
    const both = await cli(['resume', 'global', '--all']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one');
  });

  it('refuses --once with an amount, and deny of a scope', async () => {
    expect((await cli(['grant', 'p-1', '--once', '--add-usd', '1'])).code).toBe(2);
    expect((await cli(['deny', 'session:s-1'])).code).toBe(2);
  });

  it('rejects bad --by, --since, --format, --listen and --url values', async () => {
    for (const args of [
      ['report', '--by', 'planet'],
      ['report', '--since', 'yesterday'],
      ['report', '--since', '2025-02-30'],
      ['report', '--format', 'xml'],
      ['daemon', '--listen', 'localhost'],
      ['status', '--url', 'localhost:7878'],
    ]) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
    }
  });

  it('exits 0 for --help and --version', async () => {
    const help = await cli(['grant', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--add-usd');
    expect(help.stdout).toContain('--state-dir'); // global options are listed on every command
    expect((await cli(['--version'])).code).toBe(0);
  });
});

// ---- daemon unreachable: exit 3 ----

describe.concurrent('daemon unreachable', () => {
  it('status exits 3 with a message naming the URL and where it came from', async () => {
    const r = await cli(['status', '--url', 'ws://127.0.0.1:1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot reach the daemon at ws://127.0.0.1:1');
    expect(r.stderr).toContain('url from --url');
    expect(r.stdout).toBe('');
  });

  it('finds the URL in SPENDGUARD_URL too', async () => {
    const r = await cli(['kill', '--all'], { SPENDGUARD_URL: 'ws://127.0.0.1:1' });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('url from SPENDGUARD_URL');
  });
});

// ---- commands against a fake daemon ----

describe('operator commands against a daemon', () => {
  let daemon: FakeDaemon;
  let stateDir: string;
  beforeAll(async () => {
    daemon = await fakeDaemon({ token: 'op-secret' });
    // Found the way an operator's shell finds a local daemon: daemon.json and operator.token.
    stateDir = mkdtempSync(join(tmpdir(), 'spendguard-state-'));
    writeFileSync(join(stateDir, 'daemon.json'), JSON.stringify({ url: daemon.url, pid: 1 }));
    writeFileSync(join(stateDir, 'operator.token'), 'op-secret\n');
  });
  afterAll(async () => {
    await daemon.close();
    rmSync(stateDir, { recursive: true, force: true });
  });
  afterEach(() => {
    daemon.frames.length = 0;
  });

  it('status --json prints the daemon status as received', async () => {
    const r = await cli(['status', '--json', '--state-dir', stateDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ...STATUS, extra_field: 'kept' });
  });

  it('status --line prints one line', async () => {
    const r = await cli(['status', '--line'], { SPENDGUARD_STATE_DIR: stateDir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('$3.42/$20.00 today · $0.21/min · 2 prompts · !! crit 93% task:t-7 · 1 killed\n');
  });

  it('status prints a table with word + glyph + number pressure', async () => {
    const r = await cli(['status', '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('global'))).toMatch(/^global +\$3\.42 +\$20\.00 +today .* ok 17% .*\$0\.21\/min .* closed$/);
    expect(lines.find((l) => l.startsWith('global'))).toMatch(/today +\$0\.10 +0 +ok 17%/);
    expect(lines.find((l) => l.startsWith('task:t-7'))).toMatch(/\$0\.93 +\$1\.00 .* 12k\/100k +!! crit 93% .* KILLED +open$/);
  });

  it('prompts --json prints the prompt array; the table names each prompt', async () => {
    const json = await cli(['prompts', '--json', '--state-dir', stateDir]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(PROMPTS);
    const table = await cli(['prompts', '--state-dir', stateDir]);
    expect(table.stdout).toMatch(/p-1 +session:s-42 +research-1 +\$0\.42 · 12k tok +\$5\.30 +15s +1m45s +session cost_usd/);
  });

  it('sends the frames the protocol defines', async () => {
    const dir = ['--state-dir', stateDir];
    const runs = await Promise.all([
      cli(['grant', 'p-1', '--add-usd', '2.5', '--add-tokens', '1000', ...dir]),
      cli(['grant', 'p-2', '--once', ...dir]),
      cli(['grant', 'user:alice', ...dir]),
      cli(['grant', 'task:later', '--add-usd', '1', '--create', ...dir]),
      cli(['kill', 'session:s-42', '--reason', 'looping', ...dir]),
      cli(['kill', '--all', ...dir]),
      cli(['resume', 'global', ...dir]),
      cli(['deny', 'p-3', ...dir]),
    ]);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(runs[0]?.stdout).toBe('grant done\n');
    const sent = daemon.frames.map((f) => ({ ...(f as object), id: undefined }));
    // Every action names who acted: `cli:<os user>@<host>`.
    const actor = expect.stringMatching(/^cli:[^@]+@.+$/);
    const expected = [
      { type: 'grant', id: undefined, target: 'p-1', add_usd: 2.5, add_tokens: 1000, actor },
      { type: 'grant', id: undefined, target: 'p-2', once: true, actor },
      { type: 'grant', id: undefined, target: 'user:alice', actor },
      { type: 'grant', id: undefined, target: 'task:later', add_usd: 1, create: true, actor },
      { type: 'kill', id: undefined, scope: 'session:s-42', reason: 'looping', actor },
      { type: 'kill', id: undefined, all: true, actor },
      { type: 'resume', id: undefined, scope: 'global', actor },
      { type: 'deny', id: undefined, prompt: 'p-3', actor },
    ];
    expect(sent).toHaveLength(expected.length);
    expect(sent).toEqual(expect.arrayContaining(expected));
  });

  it('exits 1 with the daemon error when it refuses', async () => {
    const r = await cli(['deny', 'p-unknown', '--state-dir', stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('INVALID: no pending prompt p-unknown');
  });

  it('exits 1 naming the token source when the token is wrong', async () => {
    const r = await cli(['status', '--state-dir', stateDir], { SPENDGUARD_TOKEN: 'wrong' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused the operator token');
    expect(r.stderr).toContain('SPENDGUARD_TOKEN');
  });
});

// ---- config check ----

describe.concurrent('config check', () => {
  it('prints ok for a valid file and exits 0', async () => {
    const file = join(scratch, 'good.yaml');
    writeFileSync(file, 'limits:\n  task: { cost_usd: 2, mode: hard }\n');
    const r = await cli(['config', 'check', file]);
    expect(r).toEqual({ code: 0, stdout: `ok: ${file}\n`, stderr: '' });
  });

  it('prints file:line:column and the reason for an invalid file and exits 1', async () => {
    const file = join(scratch, 'bad.yaml');
    writeFileSync(file, 'limits:\n  task: { cost_usd: -2 }\n');
    const r = await cli(['config', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}:2:\\d+: limits\\.task\\.cost_usd: `));
  });

  it('exits 1 for a missing file', async () => {
    const r = await cli(['config', 'check', join(scratch, 'nope.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such file');
  });
});

// ---- report ----

describe.concurrent('report', () => {
  const NOW = Date.now();
  const DAY = 86_400_000;
  let stateDir: string;

  type Usage = { key: string; ts: number; model: string | null; agent: string; user: string; cost_nano: number; input: number; output: number };
  const USAGE: Usage[] = [
    { key: 'k1', ts: Date.UTC(2025, 2, 1, 10), model: 'gpt-4o', agent: 'a1', user: 'alice', cost_nano: 4_500_000, input: 1000, output: 200 },
    { key: 'k2', ts: Date.UTC(2025, 2, 1, 23, 30), model: 'gpt-4o', agent: 'a2', user: 'alice', cost_nano: 2_250_000, input: 500, output: 100 },
    { key: 'k3', ts: Date.UTC(2025, 2, 2, 0, 30), model: 'claude-sonnet', agent: 'a1', user: 'bob', cost_nano: 1_000_000_000, input: 10, output: 5 },
    { key: 'k4', ts: Date.UTC(2025, 1, 20), model: 'gpt-4o', agent: 'a1', user: 'bob', cost_nano: 123, input: 7, output: 7 },
    { key: 'k5', ts: Date.UTC(2025, 2, 2, 12), model: null, agent: 'a3', user: 'alice', cost_nano: 50_000_000, input: 0, output: 0 },
    { key: 'k6', ts: NOW - DAY / 24, model: 'gpt-4o', agent: 'a2', user: 'alice', cost_nano: 7, input: 1, output: 2 },
  ];

  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'spendguard-ledger-'));
    const db = new Database(join(stateDir, 'ledger.db'));
    db.pragma('journal_mode = WAL');
    db.exec(LEDGER_DDL);
    const insert = db.prepare(
      `INSERT INTO usage (key, ns, ts, kind, user, session, task, agent, chain, model, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens, cost_nano) VALUES (?, 'session:s1', ?, 'commit', ?, 's1', 't1', ?, '["global"]', ?, ?, ?, 0, 0, ?)`,
    );
    for (const u of USAGE) insert.run(u.key, u.ts, u.user, u.agent, u.model, u.input, u.output, u.cost_nano);
    db.close();
  });
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('--format json groups by model by default, costliest first', async () => {
    const r = await cli(['report', '--format', 'json', '--state-dir', stateDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { key: 'claude-sonnet', cost_usd: 1, input_tokens: 10, output_tokens: 5, calls: 1 },
      { key: null, cost_usd: 0.05, input_tokens: 0, output_tokens: 0, calls: 1 },
      { key: 'gpt-4o', cost_usd: 6_750_130 / 1e9, input_tokens: 1508, output_tokens: 309, calls: 4 },
    ]);
  });

  it('--since an ISO date keeps usage from that local midnight on', async () => {
    const r = await cli(['report', '--by', 'agent', '--since', '2025-03-01', '--format', 'json', '--state-dir', stateDir]);
    expect(JSON.parse(r.stdout)).toEqual([
      { key: 'a1', cost_usd: 1_004_500_000 / 1e9, input_tokens: 1010, output_tokens: 205, calls: 2 },
      { key: 'a3', cost_usd: 0.05, input_tokens: 0, output_tokens: 0, calls: 1 },
      { key: 'a2', cost_usd: 2_250_007 / 1e9, input_tokens: 501, output_tokens: 102, calls: 2 },
    ]);
  });

  it('--since a duration counts back from now', async () => {
    const r = await cli(['report', '--by', 'user', '--since', '24h', '--format', 'json', '--state-dir', stateDir]);
    expect(JSON.parse(r.stdout)).toEqual([{ key: 'alice', cost_usd: 7e-9, input_tokens: 1, output_tokens: 2, calls: 1 }]);
  });

  it('--format csv --by day groups by calendar day in order', async () => {
    const r = await cli(['report', '--by', 'day', '--since', '2025-01-01', '--format', 'csv', '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    const today = new Date(NOW - DAY / 24).toISOString().slice(0, 10); // the child runs with TZ=UTC
    expect(r.stdout).toBe(
      [
        'key,cost_usd,input_tokens,output_tokens,calls',
        '2025-02-20,0.000000123,7,7,1',
        '2025-03-01,0.00675,1500,300,2',
        '2025-03-02,1.05,10,5,2',
        `${today},0.000000007,1,2,1`,
        '',
      ].join('\n'),
    );
  });

  it('prints a table with a total row by default', async () => {
    const r = await cli(['report', '--by', 'user', '--state-dir', stateDir]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^USER +COST +INPUT +OUTPUT +CALLS$/);
    expect(r.stdout).toMatch(/\nTOTAL +\$1\.06 +1\.5k +314 +6\n/);
  });

  it('exits 1 when there is no ledger', async () => {
    const r = await cli(['report', '--state-dir', join(scratch, 'empty')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot open the ledger');
  });
});

// ---- OperatorClient in process ----

describe('OperatorClient', () => {
  let daemon: FakeDaemon;
  beforeAll(async () => {
    daemon = await fakeDaemon({ token: 'tok' });
  });
  afterAll(() => daemon.close());

  it('sends the bearer token and matches replies to requests by id', async () => {
    const client = await OperatorClient.connect({ url: daemon.url, token: 'tok' });
    try {
      const [status, prompts] = await Promise.all([client.request({ type: 'status' }), client.request({ type: 'prompts' })]);
      expect(status.status?.scopes['task:t-7']?.pressure).toBe('critical');
      expect(prompts.prompts).toEqual(PROMPTS);
      expect(daemon.headers.at(-1)?.authorization).toBe('Bearer tok');
      const ids = daemon.frames.slice(-2).map((f) => (f as { id: string }).id);
      expect(new Set(ids).size).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('rejects with OperatorError on an error frame and stays usable', async () => {
    const client = await OperatorClient.connect({ url: `${daemon.url}/`, token: 'tok' });
    try {
      const error = await client.request({ type: 'deny', prompt: 'p-unknown' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperatorError);
      expect(error).toMatchObject({ code: 'INVALID', message: 'no pending prompt p-unknown' });
      expect((await client.request({ type: 'resume', all: true })).message).toBe('resume done');
    } finally {
      await client.close();
    }
  });

  it('refuses a frame the protocol would reject before sending it', async () => {
    const client = await OperatorClient.connect({ url: daemon.url, token: 'tok' });
    try {
      await expect(client.request({ type: 'kill', scope: 'nope' })).rejects.toMatchObject({ code: 'INVALID' });
    } finally {
      await client.close();
    }
  });

  it('reports a refused token as UNAUTHORIZED and a closed port as unreachable', async () => {
    await expect(OperatorClient.connect({ url: daemon.url, token: 'bad' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(OperatorClient.connect({ url: 'ws://127.0.0.1:1' })).rejects.toBeInstanceOf(DaemonUnreachableError);
  });

  it('rejects pending requests when the daemon goes away', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    silent.on('connection', (ws) => ws.on('message', () => ws.terminate()));
    await new Promise((resolve) => silent.once('listening', resolve));
    const { port } = silent.address() as AddressInfo;
    const client = await OperatorClient.connect({ url: `ws://127.0.0.1:${port}` });
    await expect(client.request({ type: 'status' })).rejects.toBeInstanceOf(DaemonUnreachableError);
    await client.close();
    await new Promise((resolve) => silent.close(resolve));
  });
});

describe('resolveConnection', () => {
  it('prefers --url, then SPENDGUARD_URL, then daemon.json, then the default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spendguard-conn-'));
    try {
      const env = { SPENDGUARD_STATE_DIR: dir };
      expect(resolveConnection({ env })).toMatchObject({ url: 'ws://127.0.0.1:7878', urlSource: 'default', tokenSource: 'none' });
      writeFileSync(join(dir, 'daemon.json'), '{"url":"ws://127.0.0.1:9999","pid":42}');
      writeFileSync(join(dir, 'operator.token'), 'from-file\n');
      expect(resolveConnection({ env })).toMatchObject({ url: 'ws://127.0.0.1:9999', token: 'from-file', stateDir: dir });
      expect(resolveConnection({ env: { ...env, SPENDGUARD_URL: 'ws://e:1', SPENDGUARD_TOKEN: 't' } })).toMatchObject({
        url: 'ws://e:1',
        urlSource: 'SPENDGUARD_URL',
        token: 't',
      });
      expect(resolveConnection({ url: 'ws://flag:2', env: { ...env, SPENDGUARD_URL: 'ws://e:1' } }).url).toBe('ws://flag:2');
      expect(resolveConnection({ stateDir: join(dir, 'other'), env }).urlSource).toBe('default');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
