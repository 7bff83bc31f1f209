/**
 * The command-line flags that answer without serving: `-h`, `-V` and `-t`. Each prints its
 * answer; the exit code goes back to the caller, which decides whether to exit.
 */
import { ConfError } from '../conf-error';
import { Opt } from '../opt';

export interface CommandLineAnswer {
  /** The flag answered. */
  reason: 'help' | 'version' | 'test';
  exitCode: number;
}

export interface AnswerContext {
  program: string;
  version: string | undefined;
  /** How `-t` names the conf: the file, `<options.conf>` or `<defaults>`. */
  confLabel: string;
  /** `options.validate` on the conf; throws a ConfError when the conf is bad. */
  validate(): void;
}

/** Prints the answer to `-h`, `-V` or `-t` and returns it; `undefined` when none was asked. */
export function answerCommandLine(opt: Opt, ctx: AnswerContext): CommandLineAnswer | undefined {
  if (opt.help) {
    process.stdout.write(Opt.usage(ctx.program));
    return { reason: 'help', exitCode: 0 };
  }
  if (opt.version) {
    process.stdout.write(`${ctx.program} ${ctx.version ?? 'unknown'}\n`);
    return { reason: 'version', exitCode: 0 };
  }
  if (!opt.test) return undefined;
  try {
    ctx.validate();
  } catch (err) {
    if (!(err instanceof ConfError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return { reason: 'test', exitCode: 1 };
  }
  process.stdout.write(`conf ${ctx.confLabel} ok\n`);
  return { reason: 'test', exitCode: 0 };
}
