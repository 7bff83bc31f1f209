export { createErrorLogger, type ErrorLoggerOptions } from './error-logger';
export { AccessLogger, type AccessLogEntry, type AccessLoggerOptions } from './access-logger';
export { destination, type LogTarget } from './destination';
