import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { loadConfFile } from '../load-conf';

/** The conf file's text; an unreadable file throws the same ConfError `loadConfFile` does. */
export function readConfText<C>(file: string, schema: z.ZodType<C>): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    loadConfFile(file, schema);
    throw new Error(`cannot read ${file}`);
  }
}
