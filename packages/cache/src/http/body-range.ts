/**
 * Reading a byte range out of a stored body, for a 206 served from a cached full response.
 */
import type { BodyReader } from './storage';

/** The bytes `start`..`end` (inclusive) of the body `reader` gives, chunk by chunk; closes the reader. */
export async function* readByteRange(reader: BodyReader, start: number, end: number): AsyncGenerator<Buffer> {
  let offset = 0;
  try {
    for (let chunk = await reader.read(); chunk !== null; chunk = await reader.read()) {
      const chunkEnd = offset + chunk.length; // exclusive
      if (chunkEnd > start) {
        const from = Math.max(0, start - offset);
        const to = Math.min(chunk.length, end + 1 - offset);
        if (to > from) yield from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
      }
      offset = chunkEnd;
      if (offset > end) return;
    }
  } finally {
    reader.close();
  }
}
