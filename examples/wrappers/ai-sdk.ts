// The Vercel `ai` SDK with spendguard as language-model middleware: generateText, streamText,
// and a stream cut mid-way. Run: npx tsx examples/wrappers/ai-sdk.ts --state-dir <daemon state dir>
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { spendguardMiddleware } from '../../shared/providers/index.js';
import { fail, printEvent, startExample, step } from './common.js';

const { run, client, provider, close } = await startExample('ai-sdk');
const openai = createOpenAI({ apiKey: 'fake', baseURL: provider.openaiBaseURL });
const model = wrapLanguageModel({
  model: openai.chat('gpt-4o-mini'),
  // Opting in to the daemon's suggested (cheaper) model needs a way to build it.
  middleware: spendguardMiddleware(client, { onEvent: printEvent, applySuggestedModel: (id) => openai.chat(id) }),
});
const prompt = 'Which agent burned the most this hour?';
const text = 'agent:research-3 burned $1.20 in the last hour, mostly on retries of one failing call.';

try {
  step('1. generateText — maxOutputTokens clamped by the grant, usage committed with cached tokens split out');
  provider.reply = () => ({ id: `chatcmpl-ai-${run}-1`, text, usage: { input: 300, output: 21, cacheRead: 700 } });
  const r = await generateText({ model, prompt, maxOutputTokens: 400 });
  console.log(`  → ${r.text}`);
  console.log(`  (request carried max_tokens ${String(provider.requests.at(-1)?.body.max_tokens)})`);

  step('2. streamText — usage from the finish part');
  provider.reply = () => ({ id: `chatcmpl-ai-${run}-2`, text, usage: { input: 310, output: 21 } });
  let streamed = '';
  for await (const piece of streamText({ model, prompt }).textStream) streamed += piece;
  console.log(`  → ${streamed}`);

  step('3. a stream cut after 6 words — the received text is counted, never $0');
  provider.reply = () => ({ id: `chatcmpl-ai-${run}-3`, text, usage: { input: 310, output: 21 }, cutAfterDeltas: 6 });
  let partial = '';
  try {
    for await (const part of streamText({ model, prompt, maxRetries: 0, onError: () => undefined }).fullStream) {
      if (part.type === 'text-delta') partial += part.text;
    }
  } catch (err) {
    console.log(`  → "${partial}" then ${err instanceof Error ? err.message : String(err)}`);
  }
} catch (err) {
  fail(err);
} finally {
  await close();
}
