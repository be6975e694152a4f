export { wrapOpenAI, type GuardedChatCompletions, type GuardedOpenAI, type OpenAILike, type OpenAIWrapperOptions } from './openai.js';
export { wrapAnthropic, type AnthropicLike, type GuardedAnthropic, type GuardedMessages } from './anthropic.js';
export { spendguardMiddleware, type SpendguardMiddlewareOptions } from './ai-sdk.js';
export { GuardedStream, type StreamUsage } from './guarded-stream.js';
export { fromOpenAIUsage } from './openai-usage.js';
export { fromAnthropicUsage } from './anthropic-usage.js';
export { fromAiUsage, defaultInputIncludesCached, type InputIncludesCached } from './ai-sdk-usage.js';
export { estimateTokens, o200kTokenizer, BINARY_PART_TOKENS, type Tokenizer } from './tokens.js';
export {
  DEFAULT_MAX_OUTPUT_TOKENS,
  type ProviderEvent,
  type ProviderName,
  type UsageSource,
  type WrapperOptions,
} from './options.js';
