import { ConfError } from '@pingora-ts/core';
import { LOG_LEVELS } from '@pingora-ts/observability';
import type { LbConf } from './lb-conf';

export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The error log's level: `LOG_LEVEL` from the environment when set (so one run can be made
 * more verbose without editing the file, as RUST_LOG does for Pingora), else `log_level`, else
 * `info`. An invalid `LOG_LEVEL` is a config error naming it (`log_level` is checked by the schema).
 */
export function logLevel(conf: Pick<LbConf, 'log_level'>, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const fromEnv = env.LOG_LEVEL;
  if (fromEnv === undefined || fromEnv === '') return conf.log_level ?? 'info';
  const level = fromEnv.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw ConfError.single('<environment>', ['LOG_LEVEL'], `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(fromEnv)}`);
}
