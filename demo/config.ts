import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Names } from './names.js';
import { APPROVAL_SESSION } from './scenarios/approval.js';

export const CONFIG_FILE = 'demo.yaml';

/**
 * The demo daemon's configuration, as YAML the user can edit while it runs (hot reload).
 * Figures are chosen for the story's timing: the loop detector stops the retry loop within
 * seconds (its $0.50 task cap is the backstop), the approval session overdraws within ~20 s,
 * the global day limit lasts over an hour.
 */
export function demoConfigYaml(names: Names): string {
  return `# spendguard demo configuration, written by \`spendguard demo\` into its temporary state dir.
# The daemon watches this file: edit and save it while the demo runs and the change applies
# within a second; an invalid edit is rejected (the TUI header shows why) and this stays in force.
# Every key is documented in config.example.yaml.

limits:
  global:  { per_day: { cost_usd: 200 }, mode: hard }
  session: { cost_usd: 25, mode: approval }
  # Small enough that the retry loop meets it in about 30 s.
  task:    { cost_usd: 0.50, mode: hard }

scopes:
  # The approval scenario's session: small on purpose, so its agent overdraws and waits for you.
  "session:${names.of(APPROVAL_SESSION)}": { cost_usd: 0.20, mode: approval }

thresholds: { warning: 0.7, critical: 0.9 }
backpressure: [[0.80, 50], [0.85, 300], [0.90, 750], [0.95, 1500], [1.00, 5000]]
# What \`a\` in the TUI (or \`spendguard grant <prompt>\`) adds, and how long a prompt waits.
approvals: { timeout: 60s, increment_usd: 0.25 }

breakers:
  # One demo user runs every scenario: its fan-out's sub-agents each run into their own delegated
  # cap, which is the cap working, so the user breaker waits for a larger run of denied agents.
  denials: { threshold: 5, reset: 5m, half_open: 3, user_threshold: 25 }

detectors:
  # The retry loop repeats one (tool, args_hash): its 8th identical call is refused
  # LOOP_DETECTED, long before the task's hard cap. Set 0 and save to watch it run into the
  # cap instead (then its circuit breaker opens after 5 denials).
  loop: { repeats: 8, window: 10m }
  fanout: { children: 10, depth: 3 }

# At critical pressure grants suggest the cheaper model; the drifting agent takes the hint.
routing:
  gpt-4o: gpt-4o-mini

# USD per million tokens, pinned so the demo's figures do not move with the price catalog.
pricing:
  models:
    gpt-4o-mini:     { input: 0.15, output: 0.60 }
    gpt-4o:          { input: 2.50, output: 10 }
    claude-opus-4-1: { input: 15, output: 75 }
`;
}

/** Writes the config into `dir` and returns its path. */
export function writeDemoConfig(dir: string, names: Names): string {
  const path = join(dir, CONFIG_FILE);
  writeFileSync(path, demoConfigYaml(names), { mode: 0o600 });
  return path;
}
