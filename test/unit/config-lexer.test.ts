import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { lex, quoteWord, tokenizeLine } from '../../src/config/lexer.js';

function tokens(src: string): readonly string[] {
  const r = tokenizeLine(src);
  assert.ok(r.ok, `expected ${JSON.stringify(src)} to tokenize`);
  return r.tokens;
}

describe('config lexer: tokenizeLine', () => {
  it('splits on spaces and tabs, ignoring leading/trailing blanks', () => {
    assert.deepEqual(tokens('  set\tvpn  sstp port 443 \t'), ['set', 'vpn', 'sstp', 'port', '443']);
  });
  it('keeps single-quoted text literally, backslashes included', () => {
    assert.deepEqual(tokens(`set x 'a b\\n "c"'`), ['set', 'x', 'a b\\n "c"']);
  });
  it('unescapes only \\" and \\\\ inside double quotes', () => {
    assert.deepEqual(tokens(String.raw`p "a\"b\\c\d 'e'"`), ['p', String.raw`a"b\c\d 'e'`]);
  });
  it('joins touching quoted and unquoted pieces into one word', () => {
    assert.deepEqual(tokens(`pass'wo rd'"!"x`), ['passwo rd!x']);
  });
  it('keeps empty quoted words', () => {
    assert.deepEqual(tokens(`a '' ""`), ['a', '', '']);
  });
  it('starts a comment only at a word start', () => {
    assert.deepEqual(tokens('a b#c # rest of line'), ['a', 'b#c']);
    assert.deepEqual(tokens(`a '#not' "# nor this"`), ['a', '#not', '# nor this']);
    assert.deepEqual(tokens('# whole line'), []);
  });
  it('reports an unterminated quote with its column', () => {
    assert.deepEqual(tokenizeLine(`set x 'abc`), { ok: false, error: "unterminated quote (') starting at column 7" });
    assert.deepEqual(tokenizeLine(`set x "ab\\"`), { ok: false, error: 'unterminated quote (") starting at column 7' });
  });
});

describe('config lexer: lex', () => {
  it('returns set commands with line numbers, skipping blanks and comments', () => {
    const r = lex('\uFEFF# header\r\n\r\n  set vpn sstp port 443  # trailing\nset vpn sstp mode\n   \n');
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.commands, [
      { line: 3, words: ['vpn', 'sstp', 'port', '443'] },
      { line: 4, words: ['vpn', 'sstp', 'mode'] },
    ]);
  });
  it('refuses other verbs and unterminated quotes, with the line', () => {
    const r = lex('set vpn sstp port 443\ndelete vpn sstp port\nset vpn sstp ssl cert-file "/x\n');
    assert.deepEqual(r.issues, [
      { path: '', message: 'expected "set"', line: 2 },
      { path: '', message: 'unterminated quote (") starting at column 28', line: 3 },
    ]);
    assert.equal(r.commands.length, 1);
  });
});

describe('config lexer: quoteWord', () => {
  it('leaves plain words bare and quotes the rest', () => {
    assert.equal(quoteWord('192.0.2.0/25'), '192.0.2.0/25');
    assert.equal(quoteWord('a b'), "'a b'");
    assert.equal(quoteWord("it's"), `"it's"`);
    assert.equal(quoteWord(''), "''");
    assert.equal(quoteWord('#x'), "'#x'");
    assert.equal(quoteWord(String.raw`a"\b`, 'double'), String.raw`"a\"\\b"`);
  });
});

describe('config lexer: property', () => {
  // Words are anything without a line break (commands are one per line).
  const word = fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !/[\r\n]/.test(s));
  const style = fc.constantFrom('single' as const, 'double' as const, 'auto' as const);

  it('any words, each quoted in any style, come back unchanged', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(word, style), { maxLength: 8 }), fc.constantFrom(' ', '\t', '  '), (ws, sep) => {
        const line = ws.map(([w, s]) => quoteWord(w, s)).join(sep);
        const r = tokenizeLine(line);
        assert.ok(r.ok);
        assert.deepEqual(r.tokens, ws.map(([w]) => w));
      }),
      { numRuns: 500 },
    );
  });

  it('a file of quoted set commands lexes back to the same commands', () => {
    fc.assert(
      fc.property(fc.array(fc.array(word, { minLength: 1, maxLength: 5 }), { maxLength: 6 }), (cmds) => {
        const text = cmds.map((ws) => ['set', ...ws.map((w) => quoteWord(w))].join(' ')).join('\n');
        const r = lex(text);
        assert.deepEqual(r.issues, []);
        assert.deepEqual(
          r.commands.map((c) => c.words),
          cmds,
        );
        assert.deepEqual(
          r.commands.map((c) => c.line),
          cmds.map((_, i) => i + 1),
        );
      }),
      { numRuns: 300 },
    );
  });
});
