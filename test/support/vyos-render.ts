/**
 * Writes `set vpn sstp …` / `set pki …` commands as VyOS writes config.boot: 4-space indents, a tag
 * node as `name key {`, one `name value` line per value, values in double quotes (vyos1x-config's
 * renderer), valueless leaves bare, and the version footer. Which words are tag nodes and which are
 * leaves comes from sstpd's own schema, so only those two sections are accepted. Test-side only.
 */
import { lex } from '../../src/config/lexer.js';
import { PKI_SCHEMA, schemaAt, SSTP_SCHEMA, type ContainerNode } from '../../src/config/schema.js';

interface Node {
  readonly children: Map<string, Node>;
  readonly values: string[];
  leaf: boolean;
}
const mk = (): Node => ({ children: new Map(), values: [], leaf: false });

/** OCaml String.escaped as vyos1x-config applies it inside double quotes. */
function quote(v: string): string {
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

export const FOOTER_14 =
  '// Warning: Do not remove the following line.\n' +
  '// vyos-config-version: "bgp@5:broadcast-relay@1:cluster@2:config-management@1:conntrack@5:conntrack-sync@2:container@2:' +
  'dhcp-relay@2:dhcp-server@8:dhcpv6-server@1:dns-dynamic@4:dns-forwarding@4:firewall@15:flow-accounting@1:https@6:ids@1:' +
  'interfaces@32:ipoe-server@3:ipsec@13:isis@3:l2tp@8:lldp@2:mdns@1:monitoring@1:nat@8:nat66@3:ntp@3:openconnect@3:ospf@2:' +
  'pim@1:policy@8:pppoe-server@8:pptp@4:qos@2:quagga@11:rip@1:rpki@2:salt@1:snmp@3:ssh@2:sstp@6:system@27:vrf@3:vrrp@4:' +
  'vyos-accel-ppp@2:wanloadbalance@3:webproxy@2"\n' +
  '// Release version: 1.4.0\n';

/** config.boot text for the `vpn sstp` and `pki` commands in `setText` (other lines are refused). */
export function renderBoot(setText: string, head = '', footer = FOOTER_14): string {
  const root = mk();
  for (const cmd of lex(setText).commands) {
    const w = cmd.words;
    const [schema, skip]: [ContainerNode, number] = w[0] === 'pki' ? [PKI_SCHEMA, 1] : w[0] === 'vpn' && w[1] === 'sstp' ? [SSTP_SCHEMA, 2] : [SSTP_SCHEMA, -1];
    if (skip < 0) throw new Error(`renderBoot: only vpn sstp and pki commands: ${w.join(' ')}`);
    let n = root;
    const labels: string[] = w.slice(0, skip);
    const path: string[] = [];
    let i = skip;
    while (i < w.length) {
      const word = w[i]!;
      path.push(word);
      const s = schemaAt(path, schema);
      if (s?.kind === 'tag') {
        path.push(w[i + 1]!);
        labels.push(`${word} ${w[i + 1]!}`);
        i += 2;
        continue;
      }
      if (s?.kind === 'leaf') {
        labels.push(word);
        for (const l of labels) {
          let c = n.children.get(l);
          if (c === undefined) n.children.set(l, (c = mk()));
          n = c;
        }
        n.leaf = true;
        if (i + 1 < w.length) n.values.push(w[i + 1]!);
        labels.length = 0;
        break;
      }
      labels.push(word);
      i++;
    }
    for (const l of labels) {
      let c = n.children.get(l);
      if (c === undefined) n.children.set(l, (c = mk()));
      n = c;
    }
  }
  const out: string[] = [];
  const walk = (node: Node, depth: number): void => {
    const pad = '    '.repeat(depth);
    for (const [label, c] of node.children) {
      if (c.leaf) {
        if (c.values.length === 0) out.push(`${pad}${label}`);
        for (const v of c.values) out.push(`${pad}${label} ${quote(v)}`);
        continue;
      }
      out.push(`${pad}${label} {`);
      walk(c, depth + 1);
      out.push(`${pad}}`);
    }
  };
  // Nest the flat labels ("vpn", "sstp") as VyOS does.
  walk(root, 0);
  return head + out.join('\n') + '\n\n\n' + footer;
}
