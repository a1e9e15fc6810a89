/**
 * Configuration targets: the lexer (and its quoting round trip) and the whole text → model path
 * (lexer, schema tree, build, verify) on mutated real configurations and on `set` lines generated
 * from the schema itself. Files are not read (no FileChecker): this is about the text.
 */
import { lex, quoteWord, tokenizeLine } from '../../../src/config/lexer.js';
import { loadConfigText } from '../../../src/config/load.js';
import { SSTP_SCHEMA, type ContainerNode, type SchemaNode, type TagNode } from '../../../src/config/schema.js';
import { ipv4PoolSpan, parseIpv4 } from '../../../src/config/values.js';
import { check, mutate, step, type Episode, type Rng, type Step, type Target } from '../engine.js';

const GROUP = 'config';

const FULL = `# every node
set vpn sstp authentication local-users username alice password 'se cret'
set vpn sstp authentication local-users username alice static-ip 192.0.2.200
set vpn sstp authentication local-users username alice rate-limit download 2000
set vpn sstp authentication local-users username alice rate-limit upload 1000
set vpn sstp authentication local-users username bob password "b\\"ob"
set vpn sstp authentication local-users username bob disable
set vpn sstp authentication protocols mschap-v2
set vpn sstp authentication protocols chap
set vpn sstp authentication mode local
set vpn sstp gateway-address 10.1.0.1
set vpn sstp port 4443
set vpn sstp client-ip-pool subnet 10.1.1.0/24
set vpn sstp client-ip-pool subnet 10.1.2.0/25
set vpn sstp client-ipv6-pool prefix 2001:db8:1::/48 mask 64
set vpn sstp client-ipv6-pool delegate 2001:db8:100::/40 delegation-prefix 56
set vpn sstp name-server 10.1.0.53
set vpn sstp name-server 2001:db8::53
set vpn sstp ssl ca-cert-file /config/auth/ca.crt
set vpn sstp ssl cert-file /config/auth/server.crt
set vpn sstp ssl key-file /config/auth/server.key
set vpn sstp ppp-options lcp-echo-failure 5
set vpn sstp ppp-options lcp-echo-interval 10
set vpn sstp ppp-options lcp-echo-timeout 60
set vpn sstp ppp-options mppe require
`;

const RADIUS = `set vpn sstp authentication mode radius
set vpn sstp authentication radius server 192.0.2.10 key testing123
set vpn sstp authentication radius server 192.0.2.10 port 1812
set vpn sstp authentication radius server 192.0.2.10 acct-port 1813
set vpn sstp authentication radius server 192.0.2.10 fail-time 30
set vpn sstp authentication radius server 192.0.2.11 key 'another one'
set vpn sstp authentication radius server 192.0.2.11 disable
set vpn sstp authentication radius server 192.0.2.11 require-message-authenticator
set vpn sstp authentication radius timeout 5
set vpn sstp authentication radius max-try 2
set vpn sstp authentication radius acct-timeout 0
set vpn sstp authentication radius nas-identifier sstpd
set vpn sstp authentication radius nas-ip-address 192.0.2.254
set vpn sstp authentication radius source-address 192.0.2.254
set vpn sstp authentication radius dynamic-author server 192.0.2.254
set vpn sstp authentication radius dynamic-author port 3799
set vpn sstp authentication radius dynamic-author key dae-secret
set vpn sstp authentication radius rate-limit enable
set vpn sstp authentication radius rate-limit attribute Mikrotik-Rate-Limit
set vpn sstp authentication radius rate-limit vendor Mikrotik
set vpn sstp gateway-address 192.0.2.254
set vpn sstp client-ip-pool subnet 192.0.2.0/25
set vpn sstp ssl cert-file server.crt
set vpn sstp ssl key-file server.key
`;

const SEEDS = [FULL, RADIUS].map((t) => Buffer.from(t, 'utf8'));

/** Values that are right, nearly right or wrong for some node. */
const VALUES = [
  '0', '1', '3', '60', '65535', '65536', '-1', '1e3', '010', '4294967296', '10000000', '10000001', '99999999999999999999',
  '192.0.2.1', '192.0.2.0/24', '192.0.2.1/24', '0.0.0.0/0', '255.255.255.255', '1.2.3', '1.2.3.4.5', '01.2.3.4', '10.0.0.0/33',
  '2001:db8::1', '2001:db8::/32', '2001:db8::/129', '::', '::/0', 'fe80::1%eth0', '2001:db8:::1', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3.4',
  'pap', 'chap', 'mschap', 'mschap-v2', 'noauth', 'local', 'radius', 'require', 'prefer', 'deny',
  '', ' ', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'x'.repeat(129), 'é', 'Filter-Id', 'Mikrotik', '/etc/passwd',
];

function randomValue(rng: Rng): string {
  if (rng.chance(0.85)) return rng.pick(VALUES);
  return rng.bytes(rng.length(20)).toString('latin1').replace(/[\r\n]/g, '');
}

/** One `set vpn sstp …` line from a random walk down the schema. */
function schemaLine(rng: Rng): string {
  const words = ['set', 'vpn', 'sstp'];
  let cur: SchemaNode = SSTP_SCHEMA;
  for (let depth = 0; depth < 8; depth++) {
    if (cur.kind === 'leaf') {
      if (cur.type !== undefined || rng.chance(0.05)) words.push(randomValue(rng));
      break;
    }
    const node = cur as ContainerNode | TagNode;
    const names = Object.keys(node.children);
    if (rng.chance(0.03)) names.push(randomValue(rng));
    const name = rng.pick(names);
    words.push(name);
    const next: SchemaNode | undefined = Object.hasOwn(node.children, name) ? node.children[name] : undefined;
    if (!next) break;
    if (next.kind === 'tag') words.push(randomValue(rng));
    cur = next;
    if (rng.chance(0.03)) break;
  }
  return words.map((w) => quoteWord(w, rng.pick(['auto', 'auto', 'single', 'double'] as const))).join(' ');
}

function configText(rng: Rng): Buffer {
  const r = rng.int(10);
  if (r < 4) {
    const lines = (rng.chance(0.5) ? rng.pick([FULL, RADIUS]).split('\n') : []).filter(() => rng.chance(0.8));
    for (let i = rng.int(12); i > 0; i--) lines.splice(rng.int(lines.length + 1), 0, schemaLine(rng));
    return Buffer.from(lines.join(rng.chance(0.9) ? '\n' : '\r\n'), 'utf8');
  }
  if (r < 9) return mutate(rng, rng.pick(SEEDS), SEEDS, 8192);
  return rng.bytes(rng.length(400));
}

class LoadEpisode implements Episode {
  step(s: Step): void {
    const text = s.data.toString('utf8');
    const r = loadConfigText(text);
    if (!r.ok) {
      check(r.issues.length > 0 && r.issues.every((i) => typeof i.message === 'string' && i.message.length > 0), 'refused without a reason');
      return;
    }
    const c = r.config;
    check(Number.isInteger(c.port) && c.port >= 1 && c.port <= 65535, `port out of range: ${c.port}`);
    check(c.authProtocols.length > 0, 'no authentication protocol');
    for (const p of c.ipv4Pools.flatMap((x) => x.subnets)) check(ipv4PoolSpan(p) !== undefined, `bad pool range: ${p}`);
    if (c.gatewayAddress !== undefined) check(parseIpv4(c.gatewayAddress) !== undefined, `bad gateway: ${c.gatewayAddress}`);
    check(c.nameServers.ipv4.length <= 2 && c.nameServers.ipv6.length <= 3, 'too many name servers');
    for (const u of c.localUsers.values()) check(u.name.length > 0, 'local user without a name');
  }
}

export const configLoadTarget: Target = {
  name: 'config-load',
  group: GROUP,
  about: 'loadConfigText (lexer → tree → build → verify): never throws; a refusal has reasons; an accepted model has a valid port, pools, gateway and name-server counts',
  generate(rng) {
    return { steps: [step(configText(rng))], inputs: 1 };
  },
  start: () => new LoadEpisode(),
};

/** Steps: 0 = text for lex(), 1 = one word (utf8) for the quoting round trip. */
class LexEpisode implements Episode {
  step(s: Step): void {
    if (s.op === 0) {
      const r = lex(s.data.toString('utf8'));
      for (const c of r.commands) check(c.line >= 1 && c.words.every((w) => typeof w === 'string'), 'odd command');
      return;
    }
    const word = s.data.toString('utf8').replace(/[\r\n]/g, '');
    for (const style of ['auto', 'single', 'double'] as const) {
      const line = quoteWord(word, style);
      const t = tokenizeLine(line);
      check(t.ok && t.tokens.length === 1 && t.tokens[0] === word, `quoteWord does not read back: ${style} ${JSON.stringify(word)} → ${line}`);
      const lexed = lex(`set ${line}`);
      check(lexed.commands.length === 1 && lexed.commands[0]!.words[0] === word, `lex does not read a quoted word back: ${line}`);
    }
  }
}

export const configLexerTarget: Target = {
  name: 'config-lexer',
  group: GROUP,
  about: 'lex/tokenizeLine: never throw; quoteWord in every style reads back to the same word through tokenizeLine and lex',
  generate(rng) {
    const steps: Step[] = [];
    for (let n = rng.range(1, 8); n > 0; n--) {
      if (rng.chance(0.5)) steps.push(step(configText(rng), 0));
      else {
        const w = rng.chance(0.5) ? rng.pick(VALUES) + rng.pick(['', "'", '"', '\\', '#', ' ', '\t', "\\'", '\\"', '\uFEFF', '"\'']) + rng.pick(VALUES) : rng.bytes(rng.length(30)).toString('utf8');
        steps.push(step(Buffer.from(w, 'utf8'), 1));
      }
    }
    return { steps, inputs: steps.length };
  },
  start: () => new LexEpisode(),
};
