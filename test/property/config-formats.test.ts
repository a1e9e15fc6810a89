/**
 * Properties of the two configuration formats: a random tree written as config.boot — any
 * whitespace, blank lines and comments between the words, any nesting, values in any quoting
 * style — reads back to exactly the tree's commands, each on the line it was written; written as
 * set-commands it reads back to the same commands; and mangled text never throws, only gives
 * issues with a line inside the text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseBoot } from '../../src/config/boot.js';
import { quoteWord } from '../../src/config/lexer.js';
import { readConfigSource } from '../../src/config/source.js';
import { loadConfigText } from '../../src/config/load.js';

type N =
  | { readonly kind: 'node'; readonly name: string; readonly children: readonly N[] }
  | { readonly kind: 'tag'; readonly name: string; readonly key: string; readonly children: readonly N[] }
  | { readonly kind: 'leaf'; readonly name: string; readonly value?: string };

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
/** Values: anything, line breaks included (only config.boot can carry those). */
const anyValue = fc.string({ unit: 'binary', maxLength: 16 });
const lineValue = anyValue.filter((s) => !/[\r\n]/.test(s));

function tree(value: fc.Arbitrary<string>): fc.Arbitrary<N[]> {
  const { nodes } = fc.letrec<{ n: N; nodes: N[] }>((tie) => ({
    n: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ kind: fc.constant('leaf' as const), name, value: fc.option(value, { nil: undefined }) }).map((l) => (l.value === undefined ? { kind: 'leaf' as const, name: l.name } : l)),
      fc.record({ kind: fc.constant('node' as const), name, children: tie('nodes') as fc.Arbitrary<N[]> }),
      fc.record({ kind: fc.constant('tag' as const), name, key: value.filter((k) => k !== ''), children: tie('nodes') as fc.Arbitrary<N[]> }),
    ),
    nodes: fc.array(tie('n') as fc.Arbitrary<N>, { maxLength: 4 }),
  }));
  return nodes;
}

/** The commands a tree stands for, in order (an empty node is a command of its own). */
function flatten(ns: readonly N[], path: readonly string[] = []): string[][] {
  return ns.flatMap((n) => {
    if (n.kind === 'leaf') return [[...path, n.name, ...(n.value === undefined ? [] : [n.value])]];
    const here = n.kind === 'tag' ? [...path, n.name, n.key] : [...path, n.name];
    return n.children.length === 0 ? [here] : flatten(n.children, here);
  });
}

/** How the writer lays out the blanks and comments between words. */
interface Style {
  readonly pad: readonly string[];
  readonly comments: readonly string[];
  readonly quoting: readonly ('bare' | 'double' | 'single')[];
  readonly blankLines: readonly number[];
}

const style: fc.Arbitrary<Style> = fc.record({
  pad: fc.array(fc.constantFrom(' ', '  ', '\t', ' \t '), { minLength: 1, maxLength: 8 }),
  comments: fc.array(fc.constantFrom('', '', '', ' /* c */', ' /**/', ' /* a { b } "c" \' */', ' /* multi\nline */'), { minLength: 1, maxLength: 8 }),
  quoting: fc.array(fc.constantFrom('bare' as const, 'double' as const, 'single' as const), { minLength: 1, maxLength: 8 }),
  blankLines: fc.array(fc.nat(2), { minLength: 1, maxLength: 8 }),
});

const BARE = /^[A-Za-z0-9_.:@+=,%$#-][A-Za-z0-9_.:/@+=,%$#*-]*$/;

function quoteBoot(v: string, how: 'bare' | 'double' | 'single'): string {
  if (how === 'bare' && BARE.test(v) && !v.startsWith('/')) return v;
  const q = how === 'single' ? "'" : '"';
  // Escape the quote and backslash; line breaks either raw or escaped (both are VyOS's).
  return q + v.replace(/[\\'"]/g, (c) => (c === q || c === '\\' ? `\\${c}` : c)).replace(/\t/g, '\\t') + q;
}

/** Writes the tree; returns the text and, per command, the line its first word is on. */
function writeBoot(ns: readonly N[], s: Style): { text: string; lines: number[] } {
  let text = '';
  const lines: number[] = [];
  let k = 0;
  const pick = <T>(a: readonly T[]): T => a[k++ % a.length]!;
  const line = (): number => text.split('\n').length;
  const comment = (): string => pick(s.comments);
  const word = (v: string): string => quoteBoot(v, pick(s.quoting));
  const walk = (items: readonly N[], depth: number): void => {
    for (const n of items) {
      text += '\n'.repeat(pick(s.blankLines)) + pick(s.pad).repeat(depth);
      // A comment before the node's name, on its own line or the same one.
      const c = comment();
      if (c !== '') text += c.trimStart() + (pick(s.blankLines) > 0 ? '\n' : ' ');
      const at = line();
      if (n.kind === 'leaf') {
        lines.push(at);
        text += n.name + (n.value === undefined ? '' : pick(s.pad) + comment() + pick(s.pad) + word(n.value)) + pick(s.pad) + (pick(s.blankLines) > 1 ? '// tail' : '') + '\n';
        continue;
      }
      text += n.name + (n.kind === 'tag' ? pick(s.pad) + word(n.key) : '') + pick(s.pad) + comment() + ' {' + comment() + '\n';
      if (n.children.length === 0) lines.push(at);
      walk(n.children, depth + 1);
      text += pick(s.pad).repeat(depth) + '}' + comment() + '\n';
    }
  };
  walk(ns, 0);
  text += '// Warning: Do not remove the following line.\n// vyos-config-version: "sstp@6"\n';
  return { text, lines };
}

test('config.boot: any layout, comments, nesting and quoting read back to the tree, lines included', () => {
  fc.assert(
    fc.property(tree(anyValue), style, (ns, s) => {
      const { text, lines } = writeBoot(ns, s);
      const r = parseBoot(text);
      assert.deepEqual(r.issues, [], text);
      assert.deepEqual(r.commands.map((c) => c.words), flatten(ns), text);
      assert.deepEqual(r.commands.map((c) => c.line), lines, text);
      assert.equal(r.versions?.get('sstp'), 6);
    }),
    { numRuns: 400 },
  );
});

test('the same tree as set-commands and as config.boot gives the same commands', () => {
  fc.assert(
    fc.property(tree(lineValue), style, fc.constantFrom('auto' as const, 'single' as const, 'double' as const), (ns, s, q) => {
      const cmds = flatten(ns);
      // A whole configuration always starts with a node; a bare top-level leaf would look like a set line.
      fc.pre(cmds.length > 0 && ns[0]!.kind !== 'leaf');
      const set = cmds.map((ws) => ['set', ...ws.map((w) => quoteWord(w, q))].join(' ')).join('\n');
      const a = readConfigSource(set);
      const b = readConfigSource(writeBoot(ns, s).text);
      assert.equal(a.format, 'set-commands');
      assert.equal(b.format, 'config.boot');
      assert.deepEqual(a.commands.map((c) => c.words), b.commands.map((c) => c.words));
    }),
    { numRuns: 300 },
  );
});

test('mangled config.boot never throws; every issue names a line inside the text', () => {
  const base = `interfaces {
    ethernet eth0 {
        address 192.0.2.1/24
    }
}
vpn {
    sstp {
        authentication {
            local-users {
                username vyos {
                    password "vy os"
                }
            }
        }
        client-ip-pool P {
            range 192.0.2.10-192.0.2.20
        }
        default-pool P
        ssl {
            certificate 'sstp'
        }
    }
}
/* footer */ // vyos-config-version: "sstp@6"
`;
  const edit = fc.record({ at: fc.nat(base.length), del: fc.nat(4), ins: fc.string({ unit: fc.constantFrom('{', '}', '"', "'", '\\', '/', '*', '\n', ' ', 'x', '#'), maxLength: 4 }) });
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 5 }), (edits) => {
      let text = base;
      for (const e of edits) text = text.slice(0, e.at) + e.ins + text.slice(e.at + e.del);
      const maxLine = text.split('\n').length;
      const r = parseBoot(text);
      for (const i of r.issues) assert.ok(i.line !== undefined && i.line >= 1 && i.line <= maxLine, JSON.stringify(i));
      // The whole pipeline too: refused with reasons, or accepted.
      const l = loadConfigText(text);
      if (!l.ok) assert.ok(l.issues.every((i) => i.message.length > 0));
    }),
    { numRuns: 400 },
  );
});
