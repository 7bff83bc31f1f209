/**
 * Why passive health ejected a backend, or why it came back:
 * - `consecutive_5xx`, `consecutive_connect_errors`: an `OutlierDetector` threshold was reached;
 * - `expired`: the ejection time is over;
 * - `active_check`: an active health check passed while it was ejected;
 * - `shared`: decided by another process (the app's workers share ejections) or by hand.
 */
export type EjectionCause = 'consecutive_5xx' | 'consecutive_connect_errors' | 'expired' | 'active_check' | 'shared';

/** Every `EjectionCause`, for validating one that crossed a process boundary. */
export const EJECTION_CAUSES: readonly EjectionCause[] = ['consecutive_5xx', 'consecutive_connect_errors', 'expired', 'active_check', 'shared'];

/** The words a log line uses for a cause. */
export function describeEjectionCause(cause: EjectionCause): string {
  switch (cause) {
    case 'consecutive_5xx':
      return 'consecutive 5xx responses';
    case 'consecutive_connect_errors':
      return 'consecutive connect errors';
    case 'expired':
      return 'ejection time over';
    case 'active_check':
      return 'active health check passed';
    case 'shared':
      return 'shared by another process';
  }
}
