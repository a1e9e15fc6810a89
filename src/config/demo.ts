/**
 * The quick-start configuration: the seed's example (VyOS docs, `vpn sstp` "Example"), with the
 * generated self-signed certificate and no CA file, on port 4433 by default so it runs without
 * taking 443. Pure text; `certs.ts` makes the files.
 */
import { quoteWord } from './lexer.js';

export const DEMO_PORT = 4433;

export function demoConfigText(certFile: string, keyFile: string, port: number = DEMO_PORT): string {
  return [
    '# sstpd quick start: user "vyos" / password "vyos", clients get 192.0.2.0/25.',
    'set vpn sstp authentication local-users username vyos password vyos',
    'set vpn sstp authentication mode local',
    'set vpn sstp gateway-address 192.0.2.254',
    'set vpn sstp client-ip-pool subnet 192.0.2.0/25',
    'set vpn sstp name-server 10.0.0.1',
    'set vpn sstp name-server 10.0.0.2',
    `set vpn sstp ssl cert-file ${quoteWord(certFile)}`,
    `set vpn sstp ssl key-file ${quoteWord(keyFile)}`,
    `set vpn sstp port ${port}`,
    '',
  ].join('\n');
}
