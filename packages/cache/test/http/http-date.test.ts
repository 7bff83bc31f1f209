import { formatHttpDate, parseHttpDate } from '../../src/http';

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37);
  it('reads the three formats of the RFC example', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(t);
  });
  it('rejects what is not an HTTP-date', () => {
    for (const bad of ['0', '-1', '', 'tomorrow', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 08:49:37 PST', '1994-11-06T08:49:37Z']) {
      expect(parseHttpDate(bad)).toBeNull();
    }
    expect(parseHttpDate(undefined)).toBeNull();
  });
  it('formats IMF-fixdate', () => {
    expect(formatHttpDate(t)).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
  });
});
