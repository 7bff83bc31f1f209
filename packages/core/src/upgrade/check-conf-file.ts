import type { z } from 'zod';
import { errorMessage } from '../internal/error-message';
import { readConfText } from '../internal/read-conf-text';
import { parseConf } from '../load-conf';

/**
 * SIGHUP's conf check: the conf file as it is now, checked as `-t` does (schema, then the
 * app's `validate`); the problem in one line, or `undefined` when the next generation may start.
 */
export function checkConfFile<C>(file: string, schema: z.ZodType<C>, validate: ((conf: C, file: string) => void) | undefined): string | undefined {
  try {
    const conf = parseConf(readConfText(file, schema), file, schema);
    validate?.(conf, file);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
