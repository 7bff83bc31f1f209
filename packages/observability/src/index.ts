export { createErrorLogger, LOG_LEVELS, type ErrorLogger, type ErrorLoggerOptions } from './error-logger';
export { AccessLogger, type AccessLogEntry, type AccessLogFormat, type AccessLoggerOptions } from './access-logger';
export { destination, type LogDestination, type LogTarget } from './destination';
export { reopenLogs, reopenOnSignal, type Reopenable, type ReopenOnSignalOptions } from './reopen-on-signal';
