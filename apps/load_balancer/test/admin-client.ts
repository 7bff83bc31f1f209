/** The admin endpoint's client side for the tests: its URL from the log, GET and POST with a token. */
import { request } from 'undici';
import { sleep, type RunningLb } from './harness';

export const TOKEN = 'a-token-of-twenty-chars';

/** Resolves the admin endpoint's URL once it logs that it listens. */
export async function adminUrl(lb: RunningLb): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const line = lb.stderr().split('\n').find((l) => l.includes('"msg":"admin listening"'));
    if (line) return `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
    await sleep(20);
  }
  throw new Error(`the admin endpoint did not start: ${lb.stderr()}`);
}

/** A GET on a new connection (spread over the workers when it goes to the load balancer). */
export async function get(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await request(url, { reset: true, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** A POST (backend control) on a new connection. */
export async function post(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await request(url, { method: 'POST', reset: true, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, text: await res.body.text() };
}
