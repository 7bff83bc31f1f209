/**
 * Command-line options of a pingora-ts server, after Pingora's `Opt` (`-h -V -c -d -t -u`).
 *
 * Parsing is hand-written (no CLI library) because the set is small and fixed, and because
 * a server must refuse what it does not understand: an unknown flag or a missing value
 * throws `OptError` with a one-line message the app prints before exiting 2.
 */

/** Thrown by `Opt.parse` for an unknown flag, a missing value or a stray argument. */
export class OptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptError';
  }
}

/** The fields of an `Opt`; every one optional when building one by hand. */
export interface OptInit {
  help?: boolean;
  version?: boolean;
  conf?: string;
  daemon?: boolean;
  test?: boolean;
  upgrade?: boolean;
}

type BoolFlag = 'help' | 'version' | 'daemon' | 'test' | 'upgrade';

/** Short letter -> field. `c` is the only flag that takes a value. */
const SHORT: Readonly<Record<string, BoolFlag | 'conf'>> = {
  h: 'help',
  V: 'version',
  c: 'conf',
  d: 'daemon',
  t: 'test',
  u: 'upgrade',
};

const LONG: Readonly<Record<string, BoolFlag | 'conf'>> = {
  help: 'help',
  version: 'version',
  conf: 'conf',
  daemon: 'daemon',
  test: 'test',
  upgrade: 'upgrade',
};

export class Opt {
  /** `-h, --help`: print the usage and exit. */
  help: boolean;
  /** `-V, --version`: print the version and exit. */
  version: boolean;
  /** `-c, --conf FILE`: the YAML configuration file. */
  conf?: string;
  /** `-d, --daemon`: run in the background (also `daemon: true` in the conf). */
  daemon: boolean;
  /** `-t, --test`: check the configuration and exit. */
  test: boolean;
  /** `-u, --upgrade`: wait on `upgrade_sock` for the running server to hand its listening sockets over (send it SIGQUIT). */
  upgrade: boolean;

  constructor(init: OptInit = {}) {
    this.help = init.help ?? false;
    this.version = init.version ?? false;
    if (init.conf !== undefined) this.conf = init.conf;
    this.daemon = init.daemon ?? false;
    this.test = init.test ?? false;
    this.upgrade = init.upgrade ?? false;
  }

  /**
   * Parses the arguments after the script name: pass `process.argv.slice(2)`.
   * Accepts `-c FILE`, `-cFILE`, `--conf FILE`, `--conf=FILE` and combined short flags
   * (`-dt`, `-dc FILE`). Throws `OptError` on anything else.
   */
  static parse(argv: readonly string[]): Opt {
    const opt = new Opt();
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] as string;
      if (arg.startsWith('--')) {
        const eq = arg.indexOf('=');
        const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
        const field = Object.hasOwn(LONG, name) ? LONG[name] : undefined;
        if (field === undefined) throw new OptError(`unknown option '--${name}' (see --help)`);
        if (field === 'conf') {
          opt.conf = requireValue(eq === -1 ? nextValue(argv, ++i) : arg.slice(eq + 1), '--conf');
        } else if (eq !== -1) {
          throw new OptError(`option '--${name}' takes no value`);
        } else {
          opt[field] = true;
        }
      } else if (arg.length > 1 && arg.startsWith('-')) {
        for (let j = 1; j < arg.length; j++) {
          const letter = arg[j] as string;
          const field = Object.hasOwn(SHORT, letter) ? SHORT[letter] : undefined;
          if (field === undefined) throw new OptError(`unknown option '-${letter}' (see --help)`);
          if (field === 'conf') {
            // The rest of this argument is the value (`-cFILE`), else the next argument.
            opt.conf = requireValue(j + 1 < arg.length ? arg.slice(j + 1) : nextValue(argv, ++i), '-c');
            break;
          }
          opt[field] = true;
        }
      } else {
        throw new OptError(`unexpected argument '${arg}' (see --help)`);
      }
    }
    return opt;
  }

  /** The `--help` text, worded after Pingora's. */
  static usage(program: string): string {
    return [
      `Usage: ${program} [OPTIONS]`,
      '',
      'Options:',
      '  -u, --upgrade      Take over the listening sockets of the running server: wait on',
      '                     upgrade_sock, then send the old process SIGQUIT',
      '  -d, --daemon       Run in the background; the command returns once the server listens',
      '  -t, --test         Check the configuration file and exit (0 if it is valid)',
      '  -c, --conf <FILE>  The path to the YAML configuration file',
      '  -h, --help         Print this help',
      '  -V, --version      Print the version',
      '',
    ].join('\n');
  }
}

/** The next argument as a value, unless it is missing or is itself a flag (`-c -d`). */
function nextValue(argv: readonly string[], i: number): string | undefined {
  const value = argv[i];
  return value !== undefined && value.startsWith('-') && value !== '-' ? undefined : value;
}

function requireValue(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new OptError(`option '${flag}' needs a value: ${flag} <FILE>`);
  return value;
}
