// The official `@anthropic-ai/sdk` client under spendguard: a call with prompt caching, a stream,
// and a stream cut mid-way. Run: npx tsx examples/wrappers/anthropic.ts --state-dir <daemon state dir>
import Anthropic from '@anthropic-ai/sdk';
import { wrapAnthropic } from '../../shared/providers/index.js';
import { fail, printEvent, startExample, step } from './common.js';

const { run, client, provider, close } = await startExample('anthropic');
const anthropic = wrapAnthropic(new Anthropic({ apiKey: 'fake', baseURL: provider.anthropicBaseURL }), client, { onEvent: printEvent });
const body = {
  model: 'claude-haiku-4-5',
  max_tokens: 1024,
  system: 'You report agent spend tersely.',
  messages: [{ role: 'user' as const, content: 'How did the research fan-out go?' }],
};
const text = 'Fan-out stopped at 10 children; 2 requests were denied FANOUT_LIMIT; spend $0.74.';

try {
  step('1. messages.create — cache read and cache write reported apart from input, priced apart');
  provider.reply = () => ({ id: `msg_example_${run}-1`, text, usage: { input: 40, output: 25, cacheRead: 2000, cacheWrite: 500 } });
  const msg = await anthropic.messages.create(body);
  console.log(`  → ${msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('')}`);
  console.log(`  (request carried max_tokens ${String(provider.requests.at(-1)?.body.max_tokens)})`);

  step('2. stream: true — input from message_start, output from message_delta');
  provider.reply = () => ({ id: `msg_example_${run}-2`, text, usage: { input: 40, output: 25, cacheRead: 2500 } });
  let streamed = '';
  for await (const event of await anthropic.messages.create({ ...body, stream: true })) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') streamed += event.delta.text;
  }
  console.log(`  → ${streamed}`);

  step('3. a stream cut after 4 words — input as reported in message_start, output counted from the text');
  provider.reply = () => ({ id: `msg_example_${run}-3`, text, usage: { input: 40, output: 25, cacheRead: 2500 }, cutAfterDeltas: 4 });
  let partial = '';
  try {
    for await (const event of await anthropic.messages.create({ ...body, stream: true })) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') partial += event.delta.text;
    }
  } catch (err) {
    console.log(`  → "${partial}" then ${err instanceof Error ? err.message : String(err)}`);
  }
} catch (err) {
  fail(err);
} finally {
  await close();
}
