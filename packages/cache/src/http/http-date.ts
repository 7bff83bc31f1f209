/**
 * HTTP-date parsing (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms
 * a recipient must accept. Strict on purpose: `Date.parse` accepts things like `"0"` (the year
 * 2000), and RFC 9111 wants an invalid date treated as invalid (an `Expires` in the past).
 */
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** Milliseconds since the epoch, or `null` when `value` is not a valid HTTP-date. */
export function parseHttpDate(value: string | undefined): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  let day: number, mon: string, year: number, h: number, mi: number, s: number;
  let m = IMF.exec(v);
  if (m !== null) {
    [day, mon, year, h, mi, s] = [+m[1]!, m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  } else if ((m = RFC850.exec(v)) !== null) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    const yy = +m[3]!;
    const thisYear = new Date().getUTCFullYear();
    year = 2000 + yy > thisYear + 50 ? 1900 + yy : 2000 + yy;
    [day, mon, h, mi, s] = [+m[1]!, m[2]!, +m[4]!, +m[5]!, +m[6]!];
  } else if ((m = ASCTIME.exec(v)) !== null) {
    [mon, day, h, mi, s, year] = [m[1]!, +m[2]!.trim(), +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  } else {
    return null;
  }
  const month = MONTHS.indexOf(mon.toLowerCase());
  if (month < 0 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 60) return null;
  const t = Date.UTC(year, month, day, h, mi, Math.min(s, 59));
  // Date.UTC rolls 31 Feb over into March: such a date is invalid.
  if (new Date(t).getUTCDate() !== day) return null;
  return t;
}

/** `ms` as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
