/**
 * Descriptor passing over a Unix socket (SCM_RIGHTS), the way Pingora hands its listening
 * sockets to a new process. Node has no public API for it, so core uses `usocket`, a small
 * native addon built by node-gyp when the package is installed. It is an optional
 * dependency: where it did not build, `-u` / SIGQUIT upgrades are unavailable and say so in
 * one log line; the SIGHUP upgrade (a child process inheriting the sockets) still works.
 */
import type * as Usocket from 'usocket';
import { errorMessage } from '../internal/error-message';

export type UsocketModule = typeof Usocket;

let loaded: Promise<UsocketModule | Error> | undefined;

/** The usocket module, or the Error that says why it cannot be loaded. */
export function loadFdPassing(): Promise<UsocketModule | Error> {
  loaded ??= import('usocket').then(
    (mod: UsocketModule | { default: UsocketModule }) => ('USocket' in mod ? mod : mod.default),
    (err: unknown) =>
      new Error(`descriptor passing is unavailable (the optional native module usocket did not load: ${errorMessage(err).split('\n')[0]}); reinstall with build tools (python3, make, g++) to enable -u / SIGQUIT upgrades`),
  );
  return loaded;
}
