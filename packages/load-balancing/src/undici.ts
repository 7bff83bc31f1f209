/**
 * `@pingora-ts/load-balancing/undici`: `BalancedDispatcher`, an undici `Dispatcher` that
 * balances requests over a `LoadBalancer`. A subpath of its own, so the main entry never
 * imports undici (a peer dependency, needed only here).
 */
export * from './undici/balanced-dispatcher';
