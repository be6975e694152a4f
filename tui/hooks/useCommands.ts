import { type Dispatch, useEffect } from 'react';
import type { FeedSource } from '../feed-client.js';
import type { Action } from '../reducer.js';
import type { Outgoing } from '../state.js';

/** Hands commands the reducer decided on (kill, grant, …) to the socket; their results come back as actions. */
export function useCommands(outbox: readonly Outgoing[], source: FeedSource, dispatch: Dispatch<Action>): void {
  useEffect(() => {
    if (outbox.length === 0) return;
    dispatch({ type: 'sent', ids: outbox.map((o) => o.id) });
    source.send(outbox);
  }, [outbox, source, dispatch]);
}
