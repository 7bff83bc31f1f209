/**
 * `user` / `group` from the conf: after every listening socket is bound (so privileged ports
 * and root-only socket directories work), the process switches to an unprivileged identity,
 * as Pingora does. Workers and later generations start from the switched process, so they
 * never hold root at all.
 */

import { readFileSync } from 'node:fs';

export interface PrivilegeDrop {
  user?: string | undefined;
  group?: string | undefined;
}

/**
 * Switches group (supplementary groups too) then user. A no-op without either. Throws a
 * one-line Error when the switch fails (unknown name, or not running as root).
 */
export function dropPrivileges({ user, group }: PrivilegeDrop): void {
  if (user === undefined && group === undefined) return;
  if (typeof process.setuid !== 'function' || typeof process.setgid !== 'function') throw new Error('user/group: this platform cannot switch users');
  try {
    // Without `group`, the user's own primary group: keeping root's group would be no drop at all.
    const gid: string | number | undefined = group ?? (user !== undefined ? primaryGroupOf(user) : undefined);
    // Supplementary groups: without this the process would keep root's (group 0 among them).
    if (user !== undefined) (process as NodeJS.Process & { initgroups?: (user: string, extraGroup: string | number) => void }).initgroups?.(user, gid ?? 0);
    if (gid !== undefined) process.setgid(gid);
    if (user !== undefined) process.setuid(user);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EPERM' ? 'not permitted (is the server running as root?)' : (err as Error).message;
    throw new Error(`cannot switch to ${user !== undefined ? `user "${user}"` : ''}${user !== undefined && group !== undefined ? ' and ' : ''}${group !== undefined ? `group "${group}"` : ''}: ${reason}`, { cause: err });
  }
}

/** The primary gid of `user` from /etc/passwd (Node has no getpwnam); throws when it is not listed there. */
function primaryGroupOf(user: string): number {
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    // no passwd file: fall through to the error below
  }
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === user && fields[3] !== undefined && /^\d+$/.test(fields[3])) return Number(fields[3]);
  }
  throw new Error(`user "${user}" is not in /etc/passwd; set \`group\` as well`);
}
