/**
 * The config.boot reader: VyOS's curly-brace format → the same commands as set-commands, with the
 * line of each leaf; its footer; every syntax error as an issue with a line; format detection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBoot } from '../../src/config/boot.js';
import { detectFormat, readConfigSource } from '../../src/config/source.js';

const words = (text: string): string[] => parseBoot(text).commands.map((c) => `${c.line}: ${c.words.join(' ')}`);

describe('config.boot: structure', () => {
  it('nodes, tag nodes, leaves with and without values, multi values, empty nodes, with their lines', () => {
    const text = `interfaces {
    ethernet eth0 {
        address 192.0.2.1/24
        address 2001:db8::1/64
        disable
    }
}
service {
    ntp {
        server time1.vyos.net {
        }
    }
    snmp {
    }
}
`;
    assert.deepEqual(words(text), [
      '3: interfaces ethernet eth0 address 192.0.2.1/24',
      '4: interfaces ethernet eth0 address 2001:db8::1/64',
      '5: interfaces ethernet eth0 disable',
      '10: service ntp server time1.vyos.net',
      '13: service snmp',
    ]);
  });

  it('quoted values and keys: both quote styles, escapes, spaces, braces and comment marks inside', () => {
    const text = [
      'a {',
      '    plaintext-password ""',
      '    description "a {b} \\"c\\" // not /* a comment */"',
      "    password 'it\\'s \\\\ \\t'",
      '    user "x y" {',
      '        key "\\065\\n"',
      '    }',
      '    url http://example.com/x//y',
      '    encrypted-password $6$abc#def',
      '}',
    ].join('\n');
    assert.deepEqual(
      parseBoot(text).commands.map((c) => c.words),
      [
        ['a', 'plaintext-password', ''],
        ['a', 'description', 'a {b} "c" // not /* a comment */'],
        ['a', 'password', "it's \\ \t"],
        ['a', 'user', 'x y', 'key', 'A\n'],
        ['a', 'url', 'http://example.com/x//y'],
        ['a', 'encrypted-password', '$6$abc#def'],
      ],
    );
  });

  it('a quoted string may span lines; the leaf keeps the line it starts on, later lines count on', () => {
    const r = parseBoot('a {\n    b "one\ntwo"\n    c d\n}\n');
    assert.deepEqual(r.issues, []);
    assert.deepEqual(
      r.commands.map((c) => [c.line, c.words]),
      [
        [2, ['a', 'b', 'one\ntwo']],
        [4, ['a', 'c', 'd']],
      ],
    );
  });

  it('comments anywhere between words, both styles; blank lines, tabs and CRLF are blanks', () => {
    const text = '/* head */\r\nvpn /* x */ {\r\n\t// a line comment\r\n  sstp {  /* y */\r\n\r\n    port /* z */ 443 // tail\r\n  }\r\n}\r\n';
    assert.deepEqual(words(text), ['6: vpn sstp port 443']);
  });

  it('reads the footer: component versions and release (// and the older /* === … === */)', () => {
    const r = parseBoot('system {\n    host-name vyos\n}\n// Warning: Do not remove the following line.\n// vyos-config-version: "pki@1:sstp@6:system@27"\n// Release version: 1.4.0\n');
    assert.deepEqual([...(r.versions ?? [])], [['pki', 1], ['sstp', 6], ['system', 27]]);
    assert.equal(r.release, '1.4.0');
    const old = parseBoot('system {\n}\n/* Warning: Do not remove the following line. */\n/* === vyatta-config-version: "sstp@2:system@9" === */\n/* Release version: 1.2.6 */\n');
    assert.deepEqual([...(old.versions ?? [])], [['sstp', 2], ['system', 9]]);
    assert.equal(old.release, '1.2.6');
  });

  it('a last leaf without a line end still counts', () => {
    assert.deepEqual(words('a b'), ['1: a b']);
  });
});

describe('config.boot: errors are issues with a line, never exceptions', () => {
  const issue = (text: string): string => {
    const r = parseBoot(text);
    assert.equal(r.issues.length, 1, JSON.stringify(r.issues));
    const i = r.issues[0]!;
    return `${i.line}: ${i.message}`;
  };
  it('unclosed braces, stray braces, unterminated strings and comments, bad escapes', () => {
    assert.equal(issue('a {\n  b c\n'), '3: "a {" opened at line 1 is not closed with "}"');
    assert.equal(issue('a {\n}\n}\n'), '3: "}" without a node to close');
    assert.equal(issue('a {\n  b "c\n'), '2: quoted string (") starting at column 5 is missing its closing quote');
    assert.equal(issue("a {\n  b 'c\\'\n}"), "2: quoted string (') starting at column 5 is missing its closing quote");
    assert.equal(issue('a {\n /* open\n}\n'), '2: comment "/*" starting at column 2 is not closed with "*/"');
    assert.equal(issue('a {\n  b "\\q"\n}'), '2: unknown escape "\\q" in a quoted string');
    assert.equal(issue('{\n}'), '1: "{" without a node name before it');
    assert.equal(issue('a {\n  b c d\n}'), '2: "b c d": a leaf is a name and at most one value (quote values that contain spaces)');
    assert.equal(issue('a b c {\n}'), '1: "a b c {": a node is a name, or a name and a key');
    assert.equal(issue('"a" {\n}'), '1: a node name cannot be quoted ("a")');
  });
  it('nesting is bounded', () => {
    const deep = 'a {\n'.repeat(70) + '}\n'.repeat(70);
    assert.equal(issue(deep), '65: nodes nested deeper than 64 levels');
    assert.equal(parseBoot(deep, { maxDepth: 80 }).issues.length, 0);
  });
});

describe('config formats: detection and one reader for both', () => {
  it('tells set-commands from config.boot by the first meaningful line', () => {
    assert.equal(detectFormat('# comment\n\nset vpn sstp port 443\n'), 'set-commands');
    assert.equal(detectFormat("comment vpn sstp 'x'\nset vpn sstp port 443"), 'set-commands');
    assert.equal(detectFormat('\uFEFFvpn {\n    sstp {\n    }\n}\n'), 'config.boot');
    assert.equal(detectFormat('// only a comment\n'), 'config.boot');
    assert.equal(detectFormat('/* c */ vpn { }'), 'config.boot');
    assert.equal(detectFormat('vpn sstp port 443\n'), 'set-commands');
    assert.equal(detectFormat(''), 'set-commands');
  });
  it('the same configuration in both formats gives the same commands, each with its own lines', () => {
    const set = "set vpn sstp port '443'\nset vpn sstp client-ip-pool P range '192.0.2.0/24'\ncomment vpn sstp 'the VPN'\nset vpn sstp ssl certificate 'sstp'\n";
    const boot = 'vpn {\n    sstp {\n        client-ip-pool P {\n            range 192.0.2.0/24\n        }\n        port 443\n        ssl {\n            certificate sstp\n        }\n    }\n}\n';
    const a = readConfigSource(set);
    const b = readConfigSource(boot);
    assert.equal(a.format, 'set-commands');
    assert.equal(b.format, 'config.boot');
    const sorted = (s: typeof a): string[] => s.commands.map((c) => c.words.join(' ')).sort();
    assert.deepEqual(sorted(a), sorted(b));
    assert.deepEqual(b.commands.map((c) => c.line), [4, 6, 8]);
  });
});
