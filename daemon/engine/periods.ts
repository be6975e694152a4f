/** Calendar windows for per_hour / per_day / per_week / per_month limits, in a configured zone. */
export type CalendarWindow = 'hour' | 'day' | 'week' | 'month';
export const CALENDAR_WINDOWS: readonly CalendarWindow[] = ['hour', 'day', 'week', 'month'];
export type PeriodKeys = Record<CalendarWindow, string>;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone === 'local' ? undefined : timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      hourCycle: 'h23',
      weekday: 'short',
    });
    formatters.set(timezone, f);
  }
  return f;
}

const WEEKDAY_INDEX: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

/** Period keys of the instant `nowMs` in `timezone`; weeks start on Monday. */
export function periodKeys(nowMs: number, timezone: string): PeriodKeys {
  const parts: Record<string, string> = {};
  for (const p of formatterFor(timezone).formatToParts(new Date(nowMs))) parts[p.type] = p.value;
  const y = Number(parts.year);
  const m = Number(parts.month);
  const d = Number(parts.day);
  const day = `${parts.year}-${parts.month}-${parts.day}`;
  const weekday = WEEKDAY_INDEX[parts.weekday ?? 'Mon'] ?? 0;
  const monday = new Date(Date.UTC(y, m - 1, d - weekday));
  return {
    hour: `${day}T${parts.hour}`,
    day,
    week: `W${monday.toISOString().slice(0, 10)}`,
    month: `${parts.year}-${parts.month}`,
  };
}

/** Caches keys per minute: the hot path asks on every request. */
export class PeriodClock {
  private minute = -1;
  private keys: PeriodKeys | undefined;
  constructor(private readonly timezone: string) {}
  at(nowMs: number): PeriodKeys {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.minute || !this.keys) {
      this.minute = minute;
      this.keys = periodKeys(nowMs, this.timezone);
    }
    return this.keys;
  }
}
