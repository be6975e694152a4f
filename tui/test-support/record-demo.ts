/**
 * Records the operator feed of `spendguard demo` into tui/test-support/demo.recorded.jsonl,
 * the input of tui/demo-snapshot.test.tsx. Run from the repository root:
 *
 *   npx tsc -p tsconfig.json        # only when dist/ is stale: the daemon and the demo run from it
 *   node --import tsx tui/test-support/record-demo.ts
 *
 * It takes about 45 s: a real daemon (`bin/spendguard.js daemon`) on 127.0.0.1 in a temporary
 * state dir, with the demo's own configuration; the dashboard's own feed client (FeedClient over
 * wsConnect, the same subscribe frame and operator token as `spendguard top`); and
 * `spendguard demo --no-tui --url … --state-dir … --duration 40` joining that daemon. A joining
 * demo tags its scopes with a random run tag (`session:release.3fa9c1`), which it prints; the
 * config is then rewritten with that tag so the approval session gets its small limit (the
 * daemon reloads it live) and the recording has a pending prompt.
 *
 * Frames are recorded as the dashboard receives them: merged by FeedClient, at most one every
 * FLUSH_MS (600 ms). That is ~65 frames of ~7 KB; to keep the file under MAX_BYTES, consecutive
 * frames are then merged further the same way (`mergeFrames`: the newer frame's figures, deltas
 * laid over each other, alerts added up), one per 1.2 s, 1.8 s, … as needed: the state after
 * each kept frame is exactly the dashboard's at that moment. One JSON frame per line, each
 * checked with the protocol's `FeedFrame`. Recording stops at RECORD_MS, before the demo's
 * duration ends and its agents leave; then the demo, the daemon and the temporary dir go.
 */
import { spawn } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoConfigYaml } from '../../demo/config.js';
import { Names } from '../../demo/names.js';
import { FeedFrame } from '../../shared/protocol/operator.js';
import { BIN, startDaemonProcess, tempStateDir, waitFor, writeConfig } from '../../test/e2e/daemon-process.js';
import { FeedClient, FLUSH_MS } from '../feed-client.js';
import { mergeFrames } from '../feed.js';
import { wsConnect } from '../socket.js';

const OUT = new URL('./demo.recorded.jsonl', import.meta.url);
const DEMO_DURATION_S = 40;
/** Stop recording a little before the demo stops its agents: the last frame is the busy screen. */
const RECORD_MS = 38_000;
const DEMO_EXIT_MS = 20_000;
/** A fixture, not a dump: checked in and read by every test run. */
const MAX_BYTES = 300 * 1024;

/**
 * One frame per `everyMs` of daemon time (the first frame kept as it is), each the merge of the
 * frames since the previous one, as FeedClient merges between redraws.
 */
function thin(frames: readonly FeedFrame[], everyMs: number): FeedFrame[] {
  const [first, ...rest] = frames;
  if (first === undefined) return [];
  const out: FeedFrame[] = [first];
  let pending: FeedFrame | null = null;
  let last = first.at_ms;
  for (const frame of rest) {
    pending = pending ? mergeFrames(pending, frame) : frame;
    if (frame.at_ms - last >= everyMs) {
      out.push(pending);
      pending = null;
      last = frame.at_ms;
    }
  }
  if (pending) out.push(pending);
  return out;
}

function jsonl(frames: readonly FeedFrame[]): string {
  return `${frames.map((f) => JSON.stringify(f)).join('\n')}\n`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const stateDir = tempStateDir('sg-record-demo-');
  let daemon: Awaited<ReturnType<typeof startDaemonProcess>> | undefined;
  let demo: ReturnType<typeof spawn> | undefined;
  let client: FeedClient | undefined;
  try {
    // Untagged at first: the demo's run tag is only known once it has joined.
    const config = writeConfig(stateDir, demoConfigYaml(new Names(undefined)));
    daemon = await startDaemonProcess({ stateDir, config });
    const { url, operatorToken } = daemon;
    log(`daemon ${url}, state ${stateDir}`);

    const frames: string[] = [];
    let notices = 0;
    client = new FeedClient({ connect: wsConnect(() => ({ url, token: operatorToken })), actor: 'record-demo' });
    client.start((action) => {
      if (action.type === 'feed') frames.push(JSON.stringify(action.frame));
      else if (action.type === 'notice' && notices++ === 0) log(`feed notice: ${action.message}`);
      else if (action.type === 'connection' && action.connection.kind !== 'live' && action.connection.kind !== 'connecting') log(`feed ${action.connection.kind}: ${action.connection.reason}`);
    });
    await waitFor('the first feed frame', () => (frames.length > 0 ? true : undefined));

    const child = spawn(process.execPath, [BIN, 'demo', '--no-tui', '--url', url, '--state-dir', stateDir, '--duration', String(DEMO_DURATION_S)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo = child;
    const recordStart = Date.now();
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const tag = await waitFor(
      "the demo's run tag",
      () => {
        if (child.exitCode !== null) throw new Error(`demo exited with ${child.exitCode}:\n${stdout}\n${stderr}`);
        return /scopes end in \.([0-9a-f]+)/.exec(stderr)?.[1];
      },
      15_000,
    );
    writeConfig(stateDir, demoConfigYaml(new Names(tag)));
    log(`demo joined with run tag .${tag}; config rewritten for session:release.${tag}`);

    await Promise.race([sleep(Math.max(0, RECORD_MS - (Date.now() - recordStart)), undefined, { ref: false }), exited]);
    client.stop();
    client = undefined;
    log(`recorded ${frames.length} frames over ${((Date.now() - recordStart) / 1000).toFixed(1)} s`);

    const code = await Promise.race([exited, sleep(DEMO_EXIT_MS, undefined, { ref: false }).then(() => 'timeout' as const)]);
    if (code === 'timeout') log('demo did not stop in time; killing it');
    else log(`demo exited with ${code}: ${stdout.trim().split('\n').at(-2) ?? ''}`);

    // The protocol's own schema, as the fixtures read the file. The run tag exists only because
    // the demo joined a daemon; the demo on its own names its scopes without it, so it goes.
    const parsed = frames.map((line, i) => {
      const checked = FeedFrame.safeParse(JSON.parse(line.replaceAll(`.${tag}`, '')));
      if (!checked.success) throw new Error(`frame ${i} does not parse: ${checked.error.message}`);
      return checked.data;
    });
    let everyMs = 0;
    let kept = parsed;
    while (Buffer.byteLength(jsonl(kept)) > MAX_BYTES) {
      everyMs += FLUSH_MS;
      kept = thin(parsed, everyMs);
    }
    if (everyMs > 0) log(`${(Buffer.byteLength(jsonl(parsed)) / 1024).toFixed(0)} KB as received; merged to one frame per ${everyMs} ms`);
    writeFileSync(OUT, jsonl(kept));
    const last = kept.at(-1) as FeedFrame;
    log(
      `wrote ${OUT.pathname}: ${kept.length} frames over ${((last.at_ms - (kept[0]?.at_ms ?? 0)) / 1000).toFixed(1)} s, ${(statSync(OUT).size / 1024).toFixed(0)} KB; ` +
        `last frame: ${Object.keys(last.scopes).length} scopes changed, ${last.prompts.length} prompts, ${last.agents} agents`,
    );
  } finally {
    client?.stop();
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGKILL');
    }
    await daemon?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

function log(line: string): void {
  process.stderr.write(`record-demo: ${line}\n`);
}

await main();
