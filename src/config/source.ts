/**
 * A configuration file's text → `set` commands with their lines, whichever of VyOS's two formats
 * it is in: `show configuration commands` output (set-commands, lexer.ts) or the `config.boot`
 * curly-brace file (boot.ts). The format is told from the first meaningful line. Pure.
 */
import type { ConfigIssue } from '../common/errors.js';
import { parseBoot, type BootFooter } from './boot.js';
import { lex, type Command } from './lexer.js';

export type ConfigFormat = 'set-commands' | 'config.boot';

export interface ConfigSource extends BootFooter {
  readonly format: ConfigFormat;
  readonly commands: readonly Command[];
  /** Syntax problems of the text itself (path ''). */
  readonly issues: readonly ConfigIssue[];
}

/** Larger than any router's configuration (certificates included) by far; a bound, not a limit. */
export const MAX_CONFIG_CHARS = 16 * 1024 * 1024;

/**
 * The first line that is not blank or a `#` comment decides: `set`/`delete`/`comment` →
 * set-commands; `//` or `/*` → config.boot; anything else → config.boot if the text has a `{`
 * (a node opening), else set-commands, whose errors then say what was expected.
 */
export function detectFormat(text: string): ConfigFormat {
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('//') || line.startsWith('/*')) return 'config.boot';
    if (/^(set|delete|comment)(\s|$)/.test(line)) return 'set-commands';
    return text.includes('{') ? 'config.boot' : 'set-commands';
  }
  return 'set-commands';
}

export function readConfigSource(text: string): ConfigSource {
  const format = detectFormat(text);
  if (text.length > MAX_CONFIG_CHARS) {
    return { format, commands: [], issues: [{ path: '', message: `the configuration is larger than ${MAX_CONFIG_CHARS} characters` }] };
  }
  if (format === 'config.boot') return { format, ...parseBoot(text) };
  const lexed = lex(text);
  return { format, commands: lexed.commands, issues: lexed.issues };
}
