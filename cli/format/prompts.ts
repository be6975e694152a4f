import type { PromptJson } from '../../shared/protocol/operator.js';
import { renderTable } from './table.js';
import { count, duration, usd } from '../../shared/format/units.js';

export function renderPromptsTable(prompts: readonly PromptJson[]): string {
  if (prompts.length === 0) return 'no pending prompts\n';
  const rows = [...prompts]
    .sort((a, b) => b.age_ms - a.age_ms) // oldest first: it times out first
    .map((p) => [
      p.id,
      p.scope,
      p.agent,
      p.tokens > 0 ? `${usd(p.cost_usd)} · ${count(p.tokens)} tok` : usd(p.cost_usd),
      p.projected_usd === null ? '—' : usd(p.projected_usd),
      duration(p.age_ms),
      duration(p.expires_in_ms),
      p.reason,
    ]);
  return renderTable(['ID', 'SCOPE', 'AGENT', 'ASKS', 'IF GRANTED', 'AGE', 'TIMEOUT IN', 'REASON'], rows, [
    'left',
    'left',
    'left',
    'right',
    'right',
    'right',
    'right',
    'left',
  ]);
}
