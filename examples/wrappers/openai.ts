// The official `openai` client under spendguard: a plain call, a stream, a stream cut mid-way
// and a replayed response id. Run: npx tsx examples/wrappers/openai.ts --state-dir <daemon state dir>
import OpenAI from 'openai';
import { wrapOpenAI } from '../../shared/providers/index.js';
import { fail, printEvent, startExample, step } from './common.js';

const { run, client, provider, close } = await startExample('openai');
const openai = wrapOpenAI(new OpenAI({ apiKey: 'fake', baseURL: provider.openaiBaseURL }), client, { onEvent: printEvent });
const messages = [{ role: 'user' as const, content: 'Give me a one-line status of the nightly batch.' }];
const text = 'Nightly batch: 12 tasks done, $3.40 spent of $5.00, no overshoot.';

try {
  step('1. chat.completions.create — 1,200 prompt tokens of which 1,000 cached (priced as cache reads)');
  provider.reply = () => ({ id: `chatcmpl-example-${run}-1`, text, usage: { input: 200, output: 18, cacheRead: 1000 } });
  const res = await openai.chat.completions.create({ model: 'gpt-4o', messages, max_completion_tokens: 300 });
  console.log(`  → ${res.choices[0]?.message.content ?? ''}`);
  console.log(`  (request carried max_completion_tokens ${String(provider.requests.at(-1)?.body.max_completion_tokens)})`);

  step('2. stream: true — usage from the final include_usage chunk');
  provider.reply = () => ({ id: `chatcmpl-example-${run}-2`, text, usage: { input: 220, output: 18 } });
  let streamed = '';
  for await (const chunk of await openai.chat.completions.create({ model: 'gpt-4o', messages, stream: true })) {
    streamed += chunk.choices[0]?.delta.content ?? '';
  }
  console.log(`  → ${streamed}`);

  step('3. a stream the provider cuts after 5 words — the received text is counted, never $0');
  provider.reply = () => ({ id: `chatcmpl-example-${run}-3`, text, usage: { input: 220, output: 18 }, cutAfterDeltas: 5 });
  let partial = '';
  try {
    for await (const chunk of await openai.chat.completions.create({ model: 'gpt-4o', messages, stream: true })) {
      partial += chunk.choices[0]?.delta.content ?? '';
    }
  } catch (err) {
    console.log(`  → "${partial}" then ${err instanceof Error ? err.message : String(err)}`);
  }

  step('4. the same response id again (a replayed call) — acknowledged as a duplicate, billed once');
  provider.reply = () => ({ id: `chatcmpl-example-${run}-1`, text, usage: { input: 200, output: 18, cacheRead: 1000 } });
  await openai.chat.completions.create({ model: 'gpt-4o', messages, max_completion_tokens: 300 });
} catch (err) {
  fail(err);
} finally {
  await close();
}
