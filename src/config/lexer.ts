/**
 * Config text → `set` commands. One command per line, words split on spaces/tabs, VyOS shell-style
 * quoting: '...' is literal; "..." allows \" and \\ (any other backslash stays as written);
 * quoted and unquoted pieces that touch form one word (like the shell VyOS runs in). `#` at the
 * start of a word starts a comment. Outside quotes a backslash is an ordinary character.
 */
import type { ConfigIssue } from '../common/errors.js';

/** One `set` command: the words after the verb, e.g. ['vpn','sstp','port','443']. */
export interface Command {
  readonly line: number;
  readonly words: readonly string[];
}

export interface LexResult {
  readonly commands: readonly Command[];
  /** Syntax problems; path is '' because no config path is known yet. */
  readonly issues: readonly ConfigIssue[];
}

export type TokenizeResult =
  | { readonly ok: true; readonly tokens: readonly string[] }
  | { readonly ok: false; readonly error: string };

const isBlank = (c: string): boolean => c === ' ' || c === '\t';

/** Reads a quoted piece starting at `start` (the quote); returns the text and the index after it. */
function readQuoted(src: string, start: number): { text: string; end: number } | undefined {
  const q = src[start]!;
  let out = '';
  for (let i = start + 1; i < src.length; i++) {
    const c = src[i]!;
    if (c === q) return { text: out, end: i + 1 };
    if (q === '"' && c === '\\' && (src[i + 1] === '"' || src[i + 1] === '\\')) {
      out += src[i + 1];
      i++;
      continue;
    }
    out += c;
  }
  return undefined;
}

/** Splits one line (no newline in it) into words. */
export function tokenizeLine(src: string): TokenizeResult {
  const tokens: string[] = [];
  let i = 0;
  while (i < src.length) {
    if (isBlank(src[i]!)) {
      i++;
      continue;
    }
    if (src[i] === '#') break;
    let word = '';
    while (i < src.length && !isBlank(src[i]!)) {
      const c = src[i]!;
      if (c === "'" || c === '"') {
        const piece = readQuoted(src, i);
        if (piece === undefined) return { ok: false, error: `unterminated quote (${c}) starting at column ${i + 1}` };
        word += piece.text;
        i = piece.end;
      } else {
        word += c;
        i++;
      }
    }
    tokens.push(word);
  }
  return { ok: true, tokens };
}

/** Splits a whole file into `set` commands; blank, `#` comment and `comment …` lines are skipped. */
export function lex(text: string): LexResult {
  const commands: Command[] = [];
  const issues: ConfigIssue[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((src, idx) => {
    const line = idx + 1;
    const r = tokenizeLine(src);
    if (!r.ok) {
      issues.push({ path: '', message: r.error, line });
      return;
    }
    if (r.tokens.length === 0) return;
    // `show configuration commands` prints a node's comment as `comment <path> '<text>'`.
    if (r.tokens[0] === 'comment') return;
    if (r.tokens[0] !== 'set') {
      issues.push({ path: '', message: 'expected "set"', line });
      return;
    }
    commands.push({ line, words: r.tokens.slice(1) });
  });
  return { commands, issues };
}

const PLAIN_WORD = /^[A-Za-z0-9_.:/@+=,%-][A-Za-z0-9_.:/@+=,%#-]*$/;

/**
 * Quotes a word so that `tokenizeLine` gives it back unchanged. 'auto' leaves plain words bare
 * and prefers single quotes; 'single' falls back to double quotes when the word has a `'`.
 */
export function quoteWord(word: string, style: 'auto' | 'single' | 'double' = 'auto'): string {
  if (style === 'auto' && PLAIN_WORD.test(word)) return word;
  if (style !== 'double' && !word.includes("'")) return `'${word}'`;
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
