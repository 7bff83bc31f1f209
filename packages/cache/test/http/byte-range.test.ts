import { evaluateRange, formatHttpDate, parseByteRange, readByteRange } from '../../src/http';
import { metaOf, res, s } from './fixtures';
import { MemoryHttpStorage } from '../../src/http';

describe('Range served from a stored full body (RFC 9110 §14)', () => {
  it('serves one range as 206 with Content-Range (the RFC examples on a 10000-byte body)', () => {
    expect(parseByteRange('bytes=0-499', 10000)).toEqual({ status: 206, start: 0, end: 499, contentRange: 'bytes 0-499/10000' });
    expect(parseByteRange('bytes=500-999', 10000)).toMatchObject({ start: 500, end: 999 });
    expect(parseByteRange('bytes=-500', 10000)).toMatchObject({ start: 9500, end: 9999 });
    expect(parseByteRange('bytes=9500-', 10000)).toMatchObject({ start: 9500, end: 9999 });
    expect(parseByteRange('bytes=9500-20000', 10000)).toMatchObject({ start: 9500, end: 9999 });
    expect(parseByteRange('bytes=-20000', 10000)).toMatchObject({ start: 0, end: 9999 });
  });

  it('answers 416 with bytes */size when unsatisfiable', () => {
    expect(parseByteRange('bytes=10000-', 10000)).toEqual({ status: 416, contentRange: 'bytes */10000' });
    expect(parseByteRange('bytes=-0', 10000)).toEqual({ status: 416, contentRange: 'bytes */10000' });
  });

  it('ignores several ranges, other units and bad syntax (serves 200)', () => {
    for (const v of ['bytes=0-1,5-6', 'items=0-1', 'bytes=5-1', 'bytes=a-b', 'bytes=-', 'bytes', 'bytes=1-2-3']) expect(parseByteRange(v, 100).status).toBe(200);
  });

  it('honours If-Range: a strong ETag or the exact Last-Modified date, else the whole body', () => {
    const lm = formatHttpDate(s(-60));
    const stored = metaOf(res(['Cache-Control', 'max-age=60', 'ETag', '"v1"', 'Last-Modified', lm]));
    expect(evaluateRange('GET', ['Range', 'bytes=0-1', 'If-Range', '"v1"'], 100, stored).status).toBe(206);
    expect(evaluateRange('GET', ['Range', 'bytes=0-1', 'If-Range', '"v2"'], 100, stored).status).toBe(200);
    expect(evaluateRange('GET', ['Range', 'bytes=0-1', 'If-Range', 'W/"v1"'], 100, stored).status).toBe(200);
    expect(evaluateRange('GET', ['Range', 'bytes=0-1', 'If-Range', lm], 100, stored).status).toBe(206);
    expect(evaluateRange('HEAD', ['Range', 'bytes=0-1'], 100, stored).status).toBe(200);
  });

  it('cuts the range out of the stored chunks', async () => {
    const store = new MemoryHttpStorage();
    const key = { primary: 'k', variance: null };
    const w = (await store.put(key, metaOf(res(['Cache-Control', 'max-age=60']))))!;
    for (const c of ['0123', '4567', '89']) await w.write(Buffer.from(c));
    await w.finish();
    const read = async (a: number, b: number) => {
      const parts: Buffer[] = [];
      for await (const c of readByteRange((await store.get(key))!.body, a, b)) parts.push(c);
      return Buffer.concat(parts).toString();
    };
    expect(await read(0, 9)).toBe('0123456789');
    expect(await read(3, 5)).toBe('345');
    expect(await read(8, 9)).toBe('89');
    expect(await read(4, 7)).toBe('4567');
  });
});
