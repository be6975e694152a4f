import { createContext, useContext } from 'react';
import type { Pressure } from '../shared/protocol/agent.js';

/** The subset of Ink `<Text>` props a theme may set. */
export interface Style {
  readonly color?: string;
  readonly bold?: boolean;
  readonly dimColor?: boolean;
  readonly inverse?: boolean;
}

/**
 * Semantic colours: components ask for `theme.pressure.critical`, never for `red`. The
 * monochrome theme is all empty styles, so under `NO_COLOR` nothing but text reaches the
 * terminal and every state must already be readable from words and glyphs.
 */
export interface Theme {
  readonly monochrome: boolean;
  readonly pressure: Readonly<Record<Pressure, Style>>;
  readonly level: Readonly<Record<'info' | 'warning' | 'critical', Style>>;
  readonly connection: Readonly<Record<'live' | 'connecting' | 'reconnecting' | 'down', Style>>;
  readonly title: Style;
  readonly muted: Style;
  /** Numbers from a feed that is no longer live. */
  readonly stale: Style;
  readonly selected: Style;
  readonly danger: Style;
  readonly warning: Style;
  readonly good: Style;
  readonly key: Style;
  /** Border colours of dialogs; undefined draws the border without colour. */
  readonly frame: { readonly normal: string | undefined; readonly danger: string | undefined };
}

export const COLOR_THEME: Theme = {
  monochrome: false,
  pressure: { ok: { color: 'green' }, warning: { color: 'yellow' }, critical: { color: 'red', bold: true }, exceeded: { color: 'magenta', bold: true } },
  level: { info: { color: 'cyan' }, warning: { color: 'yellow' }, critical: { color: 'red', bold: true } },
  connection: { live: { color: 'green' }, connecting: { color: 'cyan' }, reconnecting: { color: 'yellow' }, down: { color: 'red', bold: true } },
  title: { bold: true, color: 'cyan' },
  muted: { dimColor: true },
  stale: { dimColor: true },
  selected: { inverse: true },
  danger: { color: 'red', bold: true },
  warning: { color: 'yellow' },
  good: { color: 'green' },
  key: { bold: true },
  frame: { normal: 'cyan', danger: 'red' },
};

const NONE: Style = {};

export const MONO_THEME: Theme = {
  monochrome: true,
  pressure: { ok: NONE, warning: NONE, critical: NONE, exceeded: NONE },
  level: { info: NONE, warning: NONE, critical: NONE },
  connection: { live: NONE, connecting: NONE, reconnecting: NONE, down: NONE },
  title: NONE,
  muted: NONE,
  stale: NONE,
  selected: NONE,
  danger: NONE,
  warning: NONE,
  good: NONE,
  key: NONE,
  frame: { normal: undefined, danger: undefined },
};

/** https://no-color.org: any non-empty `NO_COLOR` turns colour off. chalk does not check it, so we do. */
export function themeFromEnv(env: NodeJS.ProcessEnv): Theme {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '' ? MONO_THEME : COLOR_THEME;
}

export const ThemeContext = createContext<Theme>(COLOR_THEME);

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
