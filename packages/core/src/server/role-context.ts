/**
 * What a `Server` gives the code that runs its role (`runMainProcess` for a single process
 * or a primary, `runWorker` for a worker): its conf, logger and services, the stop request,
 * and the callbacks through which the role reports back.
 */
import type { ListenerRegistry } from '../listeners/listener-registry';
import type { Logger } from '../logger';
import type { ServerConf } from '../server-conf';
import type { ServerPhase } from '../server-options';
import type { ListenContext } from '../service';
import type { StateChannel } from '../state-channel';
import type { ServiceRunner } from './service-runner';
import type { StopReason, StopRequest } from './stop-request';

export interface RoleContext {
  conf: ServerConf;
  logger: Logger;
  channel: StateChannel;
  services: ServiceRunner;
  stop: StopRequest;
  requestStop(reason: StopReason): void;
  /** Enters a phase (emits `'phase'`). */
  enter(phase: ServerPhase): void;
  /** The registry of this process's listening sockets, once there is one. */
  onRegistry(registry: ListenerRegistry): void;
  listenContext(registry: ListenerRegistry): ListenContext;
}
