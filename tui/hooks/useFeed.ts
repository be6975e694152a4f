import { type Dispatch, useEffect } from 'react';
import type { FeedSource } from '../feed-client.js';
import type { Action } from '../reducer.js';

/** Runs the feed while the screen is mounted: connection, frames and results become actions. */
export function useFeed(source: FeedSource, dispatch: Dispatch<Action>): void {
  useEffect(() => {
    source.start(dispatch);
    return () => source.stop();
  }, [source, dispatch]);
}
