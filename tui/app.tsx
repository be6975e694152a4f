import { useStdout } from 'ink';
import { useReducer } from 'react';
import { Screen } from './components/Screen.js';
import { type Clock, type FeedSource, systemClock } from './feed-client.js';
import { useCommands } from './hooks/useCommands.js';
import { useFeed } from './hooks/useFeed.js';
import { useKeys, useQuit } from './hooks/useKeys.js';
import { readSize, useTerminalSize } from './hooks/useTerminalSize.js';
import { useTicker } from './hooks/useTicker.js';
import { reducer } from './reducer.js';
import { initialState } from './state.js';
import { COLOR_THEME, type Theme, ThemeContext } from './theme.js';

export interface AppProps {
  readonly source: FeedSource;
  readonly readonly: boolean;
  readonly theme?: Theme;
  readonly clock?: Clock;
  /** Shown in the header on wide screens: which daemon this is. */
  readonly endpoint?: string;
}

/** Wires the feed, the keys and the clock to the one reducer; `Screen` draws. */
export function App({ source, readonly, theme = COLOR_THEME, clock = systemClock, endpoint }: AppProps) {
  const { stdout } = useStdout();
  const [state, dispatch] = useReducer(reducer, { readonly, now_ms: clock.now(), size: readSize(stdout) }, initialState);
  useFeed(source, dispatch);
  useCommands(state.outbox, source, dispatch);
  useTicker(clock, dispatch);
  useKeys(clock, dispatch);
  useQuit(state.quit);
  useTerminalSize(clock, dispatch);
  return (
    <ThemeContext.Provider value={theme}>
      <Screen state={state} size={state.size} endpoint={endpoint} />
    </ThemeContext.Provider>
  );
}
