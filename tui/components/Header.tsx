import { Box } from 'ink';
import type { FeedScope } from '../../shared/protocol/operator.js';
import type { FeedData } from '../feed.js';
import { burnText, exhaustionText, nextExhaustion } from '../../shared/format/projection.js';
import { clock, duration, pressureText, sparkline, usd } from '../format.js';
import type { Layout } from '../layout.js';
import { isStale, sinceFrame } from '../select.js';
import type { Connection, State } from '../state.js';
import { type Theme, useTheme } from '../theme.js';
import { Line, seg, type Segment } from './Line.js';

/** `● live`, `◌ reconnecting (attempt 2, next in 4s)`, `✖ daemon down (…)` (SPEC §5). */
export function connectionBanner(connection: Connection, now_ms: number): string {
  switch (connection.kind) {
    case 'live':
      return '● live';
    case 'connecting':
      return `◌ connecting (attempt ${connection.attempt})`;
    case 'reconnecting':
    case 'down': {
      const next = connection.next_at_ms === null ? 'connecting…' : `next in ${Math.max(0, Math.ceil((connection.next_at_ms - now_ms) / 1_000))}s`;
      const head = connection.kind === 'down' ? '✖ daemon down' : '◌ reconnecting';
      return `${head} (attempt ${connection.attempt}, ${next})`;
    }
    default:
      return connection satisfies never;
  }
}

function number(value: FeedScope['limit'][string] | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/** `today $3.42/$20 ok 17%`: the global day window when there is one, else its lifetime spend. */
function spendToday(global: FeedScope | undefined, theme: Theme): Segment[] {
  if (!global) return [seg('spent —')];
  const dayLimit = typeof global.limit.per_day === 'object' ? global.limit.per_day.cost_usd : undefined;
  const daySpent = typeof global.spent.per_day === 'object' ? global.spent.per_day.cost_usd : undefined;
  const pressure = seg(` ${pressureText(global.pressure, global.ratio)}`, theme.pressure[global.pressure]);
  if (dayLimit !== undefined) return [seg(`today ${usd(daySpent ?? 0)}/${usd(dayLimit)}`), pressure];
  const limit = number(global.limit.cost_usd);
  const spent = usd(number(global.spent.cost_usd) ?? 0);
  return limit === undefined ? [seg(`spent ${spent}, no global limit`)] : [seg(`spent ${spent}/${usd(limit)}`), pressure];
}

const exhaustionCache = new WeakMap<FeedData, string>();

/**
 * The scope to act on first: a pending prompt's scope, else the one that runs out first at the
 * daemon's projected pace, else `—`. shared/format/projection.ts words it for every view.
 */
export function headerExhaustion(data: FeedData): string {
  const cached = exhaustionCache.get(data);
  if (cached !== undefined) return cached;
  const oldest = [...data.prompts].sort((a, b) => b.age_ms - a.age_ms || (a.id < b.id ? -1 : 1));
  const text = exhaustionText(nextExhaustion(data.scopes, oldest.flatMap((p) => [p.scope, p.agent])));
  exhaustionCache.set(data, text);
  return text;
}

/** `burn $5.46/min now, $0.50/min 10m`: the daemon's figures, worded as `status` and `status --line` word them. */
export function burnLine(global: FeedScope | undefined): string {
  return `${burnText(global?.burn_usd_per_min_1m ?? null)} now, ${burnText(global?.burn_usd_per_min_10m ?? null)} 10m `;
}

function limitsSource(data: FeedData, wide: boolean, theme: Theme): Segment[] {
  const { config, approvals } = data;
  const increment = seg(` · a adds ${usd(approvals.increment_usd)}, prompts time out after ${duration(approvals.timeout_ms)}`, theme.muted);
  const where = config.path === null ? 'built-in defaults' : config.path;
  const loaded = `loaded ${clock(config.loaded_at)}`;
  if (config.error !== null) {
    return [seg('limits: '), seg(`config error: ${config.error}`, theme.danger), seg(` (still using ${where}, ${loaded})`)];
  }
  return [seg(`limits: ${where} · ${loaded}`), ...(wide ? [increment] : [])];
}

/**
 * `✖ LEDGER UNAVAILABLE since 12:03:04: database or disk is full — …`: the daemon fails closed
 * (reserves denied, spend not acknowledged) until it can write again. Words and a glyph, so it
 * reads the same under NO_COLOR; placed first on its line, so a narrow terminal cuts the rest.
 */
function ledgerBanner(ledger: FeedData['ledger'], theme: Theme): Segment[] {
  const since = ledger.since_ms === null ? '' : ` since ${clock(ledger.since_ms)}`;
  return [seg(`✖ LEDGER UNAVAILABLE${since}: ${ledger.error ?? 'writes fail'}`, theme.danger), seg(' — reserves denied, spend not acked; free disk under the state dir')];
}

export function Header({ state, layout, endpoint }: { state: State; layout: Layout; endpoint?: string | undefined }) {
  const theme = useTheme();
  const { data, connection } = state;
  const stale = isStale(state);
  const global = data?.scopes.global;
  const prompts = data?.prompts.length ?? 0;
  const first: Segment[] = [seg('spendguard ', theme.title), seg(connectionBanner(connection, state.now_ms), theme.connection[connection.kind])];
  // Most important first: a narrow terminal cuts the end of the line.
  if (data && !data.ledger.writable) first.push(seg(' · ✖ LEDGER DOWN', theme.danger));
  if (global?.killed) first.push(seg(` · ■ ALL KILLED${global.kill_reason ? `: ${global.kill_reason}` : ''}`, theme.danger));
  if (stale) first.push(seg(` · data ${duration(sinceFrame(state))} old`, theme.warning));
  if (data) first.push(seg(` · agents ${data.agents} · `), seg(`prompts ${prompts}`, prompts > 0 ? theme.warning : undefined));
  if (state.readonly) first.push(seg(' · read-only', theme.key));
  if ((connection.kind === 'down' || connection.kind === 'reconnecting') && connection.reason) first.push(seg(` · ${connection.reason}`, theme.muted));
  if (endpoint && layout.wide) first.push(seg(` · ${endpoint}`, theme.muted));

  if (!data) {
    return (
      <Box flexDirection="column" height={layout.headerLines}>
        <Line segments={first} />
        <Line segments={[seg('waiting for the first feed frame from the daemon…', theme.muted)]} />
      </Box>
    );
  }
  const burn = [
    seg(' · burn ', theme.title),
    seg(burnLine(global)),
    // As long as the line leaves room for the exhaustion projection after it (30 buckets = 5 min).
    seg(sparkline(data.burn_series_usd, Math.min(30, Math.max(8, layout.columns - 100))), theme.good),
  ];
  const exhaustion = seg(headerExhaustion(data));
  const limits = limitsSource(data, layout.wide, theme);
  // On a narrow screen the end of a line is cut: a config error must not be what goes.
  const usual = layout.wide ? limits : data.config.error !== null ? [...limits, seg(' · '), exhaustion] : [exhaustion, seg(' · '), ...limits];
  const third = data.ledger.writable ? usual : [...ledgerBanner(data.ledger, theme), seg(' · '), ...usual];
  const overlay = stale ? theme.stale : undefined;
  return (
    <Box flexDirection="column" height={layout.headerLines}>
      <Line segments={first} />
      <Line segments={[...spendToday(global, theme), ...burn, ...(layout.wide ? [seg(' · '), exhaustion] : [])]} overlay={overlay} />
      <Line segments={third} overlay={overlay} />
    </Box>
  );
}
