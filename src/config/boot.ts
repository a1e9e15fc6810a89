/**
 * The `config.boot` format VyOS keeps on disk (vyos1x-config's lexer and parser, read to learn the
 * grammar) → the same `set` commands `show configuration commands` prints, each with the line it
 * came from, so one schema walk (tree.ts) serves both formats.
 *
 *   interfaces {                          a node: NAME {
 *       ethernet eth0 {                   a tag node: NAME KEY {
 *           address 192.0.2.1/24          a leaf with a value: NAME VALUE, ended by the line end
 *           disable                       a valueless leaf: NAME
 *       }
 *   }
 *   // vyos-config-version: "…:sstp@6:…"  the footer (`//` or `/* … *\/` comments)
 *
 * Words are runs of anything but blanks, braces and quotes; "…" and '…' strings may span lines
 * and take the escapes \" \' \\ \/ \b \f \n \r \t (and \DDD, which VyOS's writer produces for
 * control characters). A line end ends a leaf, as in VyOS; elsewhere it is just a blank. Comments
 * may stand anywhere between words. A repeated leaf adds a value (multi nodes are written one line
 * per value). Sans-I/O and bounded: one pass over the text, nesting at most `maxDepth`, no
 * recursion; malformed input gives issues with the line, never an exception.
 */
import type { ConfigIssue } from '../common/errors.js';
import type { Command } from './lexer.js';

export interface BootFooter {
  /** `vyos-config-version` (or the older `vyatta-config-version`): component → syntax version. */
  readonly versions?: ReadonlyMap<string, number>;
  /** `Release version: 1.4.0`. */
  readonly release?: string;
}

export interface BootResult extends BootFooter {
  readonly commands: readonly Command[];
  /** Syntax problems; path is '' (no configuration path is known for them). */
  readonly issues: readonly ConfigIssue[];
}

export interface BootLimits {
  /** Deepest node nesting accepted (VyOS configs go about 8 deep). */
  readonly maxDepth: number;
}

const DEFAULT_LIMITS: BootLimits = { maxDepth: 64 };

type Token =
  | { readonly kind: 'word'; readonly text: string; readonly line: number; readonly quoted: boolean }
  | { readonly kind: '{' | '}' | 'nl' | 'eof'; readonly line: number };

class BootSyntaxError {
  constructor(
    readonly message: string,
    readonly line: number,
  ) {}
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "'": "'", '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Splits the text into tokens; comments are collected (for the footer) and dropped. */
class Lexer {
  private i = 0;
  private line = 1;
  private col = 1;
  readonly comments: string[] = [];
  constructor(private readonly src: string) {}

  private advance(): string {
    const c = this.src[this.i++]!;
    if (c === '\n') {
      this.line++;
      this.col = 1;
    } else this.col++;
    return c;
  }

  next(): Token {
    for (;;) {
      if (this.i >= this.src.length) return { kind: 'eof', line: this.line };
      const c = this.src[this.i]!;
      if (c === ' ' || c === '\t' || c === '\r') {
        this.advance();
        continue;
      }
      const line = this.line;
      if (c === '\n') {
        this.advance();
        return { kind: 'nl', line };
      }
      if (c === '{' || c === '}') {
        this.advance();
        return { kind: c, line };
      }
      if (this.src.startsWith('/*', this.i)) {
        this.blockComment();
        continue;
      }
      if (this.src.startsWith('//', this.i)) {
        const end = this.src.indexOf('\n', this.i);
        const stop = end < 0 ? this.src.length : end;
        this.comments.push(this.src.slice(this.i + 2, stop));
        this.col += stop - this.i;
        this.i = stop;
        continue;
      }
      if (c === '"' || c === "'") return { kind: 'word', text: this.quoted(c), line, quoted: true };
      return { kind: 'word', text: this.word(), line, quoted: false };
    }
  }

  private blockComment(): void {
    const line = this.line;
    const col = this.col;
    const end = this.src.indexOf('*/', this.i + 2);
    if (end < 0) throw new BootSyntaxError(`comment "/*" starting at column ${col} is not closed with "*/"`, line);
    const body = this.src.slice(this.i + 2, end);
    this.comments.push(body);
    while (this.i < end + 2) this.advance();
  }

  private word(): string {
    const start = this.i;
    while (this.i < this.src.length && !/[ \t\r\n{}"']/.test(this.src[this.i]!)) this.advance();
    return this.src.slice(start, this.i);
  }

  private quoted(q: string): string {
    const line = this.line;
    const col = this.col;
    this.advance();
    let out = '';
    for (;;) {
      if (this.i >= this.src.length) {
        throw new BootSyntaxError(`quoted string (${q}) starting at column ${col} is missing its closing quote`, line);
      }
      const c = this.advance();
      if (c === q) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      if (this.i >= this.src.length) continue; // reported as unterminated on the next turn
      const e = this.advance();
      if (Object.hasOwn(ESCAPES, e)) out += ESCAPES[e];
      else if (/[0-9]/.test(e) && /^[0-9]{2}$/.test(this.src.slice(this.i, this.i + 2))) {
        const code = Number(e + this.advance() + this.advance());
        if (code > 255) throw new BootSyntaxError(`escape "\\${code}" in a quoted string is not a byte`, this.line);
        out += String.fromCharCode(code);
      } else throw new BootSyntaxError(`unknown escape "\\${e}" in a quoted string`, this.line);
    }
  }
}

interface Frame {
  readonly path: readonly string[];
  readonly line: number;
  children: number;
}

/** The footer VyOS appends: component versions and the release that wrote the file. */
export function parseFooter(comments: readonly string[]): BootFooter {
  let versions: Map<string, number> | undefined;
  let release: string | undefined;
  for (const c of comments) {
    const v = /(?:vyos|vyatta)-config-version:\s*"([^"]*)"/.exec(c);
    if (v !== null) {
      versions = new Map();
      for (const part of v[1]!.split(':')) {
        const m = /^([\w.-]+)@([0-9]+)$/.exec(part);
        if (m !== null) versions.set(m[1]!, Number(m[2]));
      }
    }
    const r = /Release version:\s*(\S+)/.exec(c);
    if (r !== null) release = r[1];
  }
  return { ...(versions ? { versions } : {}), ...(release !== undefined ? { release } : {}) };
}

/** Parses a whole config.boot; on a syntax error the commands read so far are kept. */
export function parseBoot(text: string, limits: BootLimits = DEFAULT_LIMITS): BootResult {
  const lexer = new Lexer(text.replace(/^\uFEFF/, ''));
  const commands: Command[] = [];
  const issues: ConfigIssue[] = [];
  const stack: Frame[] = [{ path: [], line: 0, children: 0 }];
  let words: Extract<Token, { kind: 'word' }>[] = [];

  const top = (): Frame => stack[stack.length - 1]!;
  const emit = (path: readonly string[], line: number): void => {
    commands.push({ line, words: path });
    top().children++;
  };
  /** A statement ended by a line end, "}" or the end of the file: a leaf. */
  const endLeaf = (): void => {
    if (words.length === 0) return;
    const first = words[0]!;
    if (words.length > 2) {
      throw new BootSyntaxError(
        `"${words.map((w) => w.text).join(' ')}": a leaf is a name and at most one value (quote values that contain spaces)`,
        first.line,
      );
    }
    if (first.quoted) throw new BootSyntaxError(`a node name cannot be quoted ("${first.text}")`, first.line);
    emit([...top().path, ...words.map((w) => w.text)], first.line);
    words = [];
  };

  try {
    for (;;) {
      const t = lexer.next();
      if (t.kind === 'word') {
        words.push(t);
        continue;
      }
      if (t.kind === 'nl') {
        endLeaf();
        continue;
      }
      if (t.kind === '{') {
        const first = words[0];
        if (first === undefined) throw new BootSyntaxError('"{" without a node name before it', t.line);
        if (words.length > 2) throw new BootSyntaxError(`"${words.map((w) => w.text).join(' ')} {": a node is a name, or a name and a key`, first.line);
        if (first.quoted) throw new BootSyntaxError(`a node name cannot be quoted ("${first.text}")`, first.line);
        if (stack.length > limits.maxDepth) throw new BootSyntaxError(`nodes nested deeper than ${limits.maxDepth} levels`, first.line);
        top().children++;
        stack.push({ path: [...top().path, ...words.map((w) => w.text)], line: first.line, children: 0 });
        words = [];
        continue;
      }
      endLeaf();
      if (t.kind === '}') {
        if (stack.length === 1) throw new BootSyntaxError('"}" without a node to close', t.line);
        const done = stack.pop()!;
        // An empty node still exists (`snmp { }`, `server time1.vyos.net { }`).
        if (done.children === 0) commands.push({ line: done.line, words: done.path });
        continue;
      }
      // eof
      if (stack.length > 1) {
        const open = top();
        throw new BootSyntaxError(`"${open.path.join(' ')} {" opened at line ${open.line} is not closed with "}"`, t.line);
      }
      break;
    }
  } catch (e) {
    if (!(e instanceof BootSyntaxError)) throw e;
    issues.push({ path: '', message: e.message, line: e.line });
  }
  return { commands, issues, ...parseFooter(lexer.comments) };
}
