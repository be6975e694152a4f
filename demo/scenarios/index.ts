import type { Scenario } from '../scenario.js';
import { approval } from './approval.js';
import { drift } from './drift.js';
import { fanOut } from './fan-out.js';
import { healthyWorker } from './healthy-worker.js';
import { retryLoop } from './retry-loop.js';

/** Every story the demo plays at once, in the order their first lines appear. */
export const SCENARIOS: readonly Scenario[] = [healthyWorker, retryLoop, fanOut, drift, approval];
