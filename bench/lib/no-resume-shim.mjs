// Makes wrk do a full TLS handshake on every new connection. When wrk reconnects it calls
// SSL_shutdown + SSL_clear on the same SSL object. SSL_clear keeps the session, so the next
// handshake offers it, and every peer here (session tickets on) resumes it: a PSK handshake
// with no certificate signature. This LD_PRELOAD library wraps SSL_clear to drop the session
// first. It does not need OpenSSL headers: both symbols come from wrk's own libssl (dlsym).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SHIM_SOURCE = `#define _GNU_SOURCE
#include <dlfcn.h>
typedef struct ssl_st SSL;
int SSL_clear(SSL *s) {
  static int (*real_clear)(SSL *);
  static int (*set_session)(SSL *, void *);
  if (!real_clear) {
    real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
    set_session = (int (*)(SSL *, void *))dlsym(RTLD_NEXT, "SSL_set_session");
  }
  if (set_session) set_session(s, 0);
  return real_clear(s);
}
`;

/**
 * Compiles the shim into `<dir>/no-resume.so` once (a C compiler is needed) and returns its path.
 * @param {string} dir
 */
export function noResumeShim(dir) {
  const so = join(dir, 'no-resume.so');
  if (existsSync(so)) return so;
  const src = join(dir, 'no-resume.c');
  writeFileSync(src, SHIM_SOURCE);
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', so, src], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = r.error ? 'no C compiler (cc) found' : (r.stderr || '').trim().split('\n').pop();
    throw new Error(`cannot build the LD_PRELOAD shim that stops wrk resuming TLS sessions: ${why}`);
  }
  return so;
}
