export * from './proxy-error';
export * from './service';
export * from './logger';
export * from './stderr-logger';
export * from './opt';
export * from './server-conf';
export { ConfError, formatConfPath, type ConfIssue } from './conf-error';
export * from './load-conf';
export * from './pid-file';
export * from './daemon';
export * from './server';
export * from './state-channel';
export * from './privileges';
export {
  listenerConfigSchema,
  tlsConfigSchema,
  tlsCertSchema,
  parseListenAddr,
  listenerKey,
  TLS_MIN_VERSIONS,
  KNOWN_ALPN,
  type ListenerConfig,
  type ListenerConfigInput,
  type TlsConfig,
  type TlsConfigInput,
  type TlsCertConfig,
  type ListenTarget,
} from './listeners/listener-config';
export { openListener, type Listener, type ListenerOptions, type ConnectionHandler } from './listeners/listener';
export { checkTlsConfig, checkListenerConfig, readCaFile, type ConfLocation } from './listeners/check-tls-config';
export { CERT_RELOAD_DEBOUNCE_MS, CERT_RELOAD_MAX_WAIT_MS, type TlsReloadResult } from './listeners/tls-certificates';
