/**
 * `duplicateDescriptor(fd, n)`: n more descriptors of the same socket in this process, as
 * `dup()` would give. Node has no `dup()`, so the descriptor is sent to this process itself
 * over a Unix socket (SCM_RIGHTS, through the optional usocket addon core already uses for
 * upgrades): the kernel installs a new descriptor for each copy received.
 *
 * Why a listener wants them: libuv (1.45 and later) accepts one connection per listening
 * handle per event-loop turn, and a turn of a busy proxy lasts milliseconds, so a burst of new
 * connections drained at about a hundred a second. Each duplicate gets a handle of its own,
 * so K handles accept K connections per turn.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { USocket } from 'usocket';
import { loadFdPassing } from '../upgrade/fd-passing';

/** How long the round trip may take before the listener goes on without duplicates. */
const DUPLICATE_TIMEOUT_MS = 2000;

/**
 * Resolves to `count` new descriptors of `fd`, or to `[]` (and never rejects) where usocket is
 * unavailable or the round trip fails: a listener then simply keeps one accept handle.
 */
export async function duplicateDescriptor(fd: number, count: number): Promise<number[]> {
  if (count <= 0) return [];
  const usocket = await loadFdPassing();
  if (usocket instanceof Error) return [];
  const path = join(tmpdir(), `pingora-ts-dup-${process.pid}-${randomBytes(6).toString('hex')}.sock`);
  const server = new usocket.UServer();
  const sockets: USocket[] = [];
  const fds: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return await new Promise<number[]>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), DUPLICATE_TIMEOUT_MS);
      server.on('error', reject);
      server.on('connection', (conn) => {
        sockets.push(conn);
        conn.on('error', reject);
        conn.on('data', () => {}); // reading is what delivers the descriptors
        conn.on('fds', (received) => {
          fds.push(...received);
          if (fds.length >= count) resolve(fds);
        });
      });
      const client = new usocket.USocket();
      sockets.push(client);
      client.on('error', reject);
      client.connect(path, () => client.write({ data: Buffer.from('d'), fds: new Array<number>(count).fill(fd) }));
    });
  } catch {
    for (const d of fds) closeSync(d); // a partial set is not used
    return [];
  } finally {
    clearTimeout(timer);
    // Not from inside usocket's own callback (the 'fds' event): libuv aborts on a handle closed
    // while it is still being dispatched.
    setImmediate(() => {
      for (const s of sockets) s.destroy();
      server.close();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    });
  }
}
