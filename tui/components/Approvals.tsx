import { Box } from 'ink';
import type { Prompt } from '../feed.js';
import { count, duration, fit, fitMiddle, usd } from '../format.js';
import { type Layout, windowStart } from '../layout.js';
import { isStale, promptAge, promptExpiresIn, promptOf, selectedKey, sortedPrompts } from '../select.js';
import type { State } from '../state.js';
import { type Theme, useTheme } from '../theme.js';
import { Line, seg, type Segment } from './Line.js';

const COUNTDOWN_WARN_MS = 30_000;
const COUNTDOWN_DANGER_MS = 10_000;

/** `$0.50`, `20k tok`, or both: what the request asks for. */
export function asked(prompt: Prompt): string {
  const parts = [prompt.cost_usd > 0 || prompt.tokens === 0 ? usd(prompt.cost_usd) : '', prompt.tokens > 0 ? `${count(prompt.tokens)} tok` : ''];
  return parts.filter(Boolean).join(' ');
}

/** `→ $1.24/$1`: the scope's spend if granted, against its current limit. */
function projected(state: State, prompt: Prompt): string {
  const limit = prompt.limit_usd ?? state.data?.scopes[prompt.scope]?.limit.cost_usd;
  const of = typeof limit === 'number' ? `/${usd(limit)}` : '';
  return `→ ${prompt.projected_usd === null ? '—' : usd(prompt.projected_usd)}${of}`;
}

function countdownStyle(ms: number, theme: Theme) {
  return ms < COUNTDOWN_DANGER_MS ? theme.danger : ms < COUNTDOWN_WARN_MS ? theme.warning : undefined;
}

export function Approvals({ state, layout }: { state: State; layout: Layout }) {
  const theme = useTheme();
  const prompts = sortedPrompts(state);
  const key = selectedKey(state);
  const highlighted = promptOf(state, key);
  const first = windowStart(prompts.length, layout.promptRows, highlighted ? prompts.indexOf(highlighted) : null);
  const shown = prompts.slice(first, first + layout.promptRows);

  if (state.data === null) return <Line segments={[seg('Pending approvals (—)', theme.title), seg(' · no data from the daemon yet', theme.muted)]} />;
  const title: Segment[] = [seg(`Pending approvals (${prompts.length})`, prompts.length > 0 ? { ...theme.title, ...theme.warning } : theme.title)];
  if (prompts.length === 0) title.push(seg(' · none', theme.muted));
  else {
    if (shown.length < prompts.length) title.push(seg(` · ${first + 1}–${first + shown.length} shown, ↑↓ for more`, theme.muted));
    if (!state.readonly) title.push(seg(highlighted ? ' · a/o/d act on the highlighted prompt' : ' · a/o/d act on the oldest (top)', theme.muted));
  }

  const agentWidth = Math.min(Math.max(0, ...shown.map((p) => p.agent.length)), layout.wide ? 28 : 16);
  const scopeWidth = Math.min(Math.max(0, ...shown.map((p) => p.scope.length)), layout.wide ? 28 : 16);
  const leftWidth = Math.max(0, ...shown.map((p) => `${duration(promptExpiresIn(state, p))} left`.length));
  const askWidth = Math.max(0, ...shown.map((p) => asked(p).length));
  const projWidth = Math.max(0, ...shown.map((p) => projected(state, p).length));
  const overlay = isStale(state) ? theme.stale : undefined;

  return (
    <Box flexDirection="column">
      <Line segments={title} />
      {shown.map((p) => {
        const selected = highlighted?.id === p.id;
        const left = promptExpiresIn(state, p);
        const segments: Segment[] = [
          seg(selected ? '› ' : '  '),
          seg(fitMiddle(p.agent, agentWidth), theme.key),
          // The countdown comes early: on a narrow screen it is the last thing that may be cut.
          seg(` ${fit(`${duration(left)} left`, leftWidth, 'right')}`, countdownStyle(left, theme)),
          seg(` ${fitMiddle(p.scope, scopeWidth)}  `),
          seg(fit(asked(p), askWidth, 'right'), theme.warning),
          seg(` ${fit(projected(state, p), projWidth)}`),
          seg(`  age ${duration(promptAge(state, p))}  `, theme.muted),
          seg(p.reason, theme.muted),
        ];
        return <Line key={p.id} segments={segments} style={selected ? theme.selected : undefined} overlay={overlay} />;
      })}
    </Box>
  );
}
