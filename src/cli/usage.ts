/**
 * What every command line tool does with a bad command line: one line saying what is wrong, the
 * usage, exit status 2 — never a stack trace.
 */

/** node:util parseArgs' own errors (unknown option, missing value, …). */
export function isParseArgsError(err: unknown): err is TypeError & { code: string } {
  const code: unknown = err instanceof TypeError ? (err as TypeError & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** Prints `prog: message` and the usage on stderr; returns the exit status (2). */
export function usageError(prog: string, message: string, usage: string): 2 {
  process.stderr.write(`${prog}: ${message}\n${usage}\n`);
  return 2;
}
