import { usd, plural } from './format.js';
import type { HintText } from './keys.js';
import { Command } from './keys.js';
import { keyContext, type State } from './state.js';
import { scopeOfRow, selectedKey } from './select.js';
import { killerOf } from './tree.js';

/**
 * What an action would hit, in words the footer and the dialogs share: the exact scope and its
 * blast radius, so `x` never reads as "kill" without saying what.
 */

/** Connected agents a kill of `target` reaches (`null`: kill all), as the daemon counts them (`agents_under`). */
export function agentsUnder(state: State, target: string | null): number {
  return state.data?.scopes[target ?? 'global']?.agents_under ?? 0;
}

/** `session:s-42 — 3 agents`, `ALL — 4 agents`. */
export function killTarget(state: State, target: string | null): string {
  return `${target === null || target === 'global' ? 'ALL' : target} — ${plural(agentsUnder(state, target), 'agent')}`;
}

/** `+$2.50`, `+20000 tokens`. */
export function grantWords(amount: { readonly add_usd: number } | { readonly add_tokens: number }): string {
  return 'add_usd' in amount ? `+${usd(amount.add_usd)}` : `+${amount.add_tokens} tokens`;
}

/** `limit $1.00 → $1,001.00`, `no limit of its own`. */
export function limitChange(now: number | null, after: number | null, tokens: boolean): string {
  const f = (v: number): string => (tokens ? `${v} tok` : usd(v));
  return now === null || after === null ? `no ${tokens ? 'token' : 'cost'} limit of its own` : `limit ${f(now)} → ${f(after)}`;
}

/** Hint words naming the target of each key, for the context that has the keys now. */
export function hintTexts(state: State): HintText {
  const mode = state.mode;
  switch (keyContext(state)) {
    case 'main':
    case 'prompt-details':
    case 'scope-details': {
      const row = mode.kind === 'details' ? mode.row : selectedKey(state);
      const scope = scopeOfRow(state, row);
      const texts: HintText = {};
      // The exact target; its blast radius is in the confirmation (the footer has no room for both).
      if (scope !== null) texts[Command.Kill] = `x kill ${scope}`;
      const killer = scope === null ? null : killerOf(state.data?.scopes ?? {}, scope);
      if (killer !== null) texts[Command.Resume] = `r resume ${killer}`;
      return texts;
    }
    case 'confirm':
      if (mode.kind === 'confirm-kill') return { [Command.Confirm]: `y to kill ${killTarget(state, mode.target)}` };
      if (mode.kind === 'confirm-resume') return { [Command.Confirm]: `y to resume ${killTarget(state, mode.target)}` };
      if (mode.kind === 'confirm-grant') {
        const to = mode.target.kind === 'prompt' ? mode.target.prompt : mode.target.scope;
        return { [Command.Confirm]: `y to grant ${grantWords(mode.amount)} to ${to}` };
      }
      return {};
    case 'input':
    case 'overlay':
    case 'too-small':
      return {};
    default:
      return {};
  }
}
