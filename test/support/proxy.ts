/**
 * PROXY protocol headers as a proxy writes them (HAProxy's spec), for tests that stand in for one.
 */
import { parseAddress6 } from '../../src/ip/ipv6-addr.js';

export interface Endpoints {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
}

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

export function proxyV1(e: Endpoints | 'unknown'): Buffer {
  if (e === 'unknown') return Buffer.from('PROXY UNKNOWN\r\n');
  const fam = e.src.includes(':') ? 'TCP6' : 'TCP4';
  return Buffer.from(`PROXY ${fam} ${e.src} ${e.dst} ${e.sport} ${e.dport}\r\n`);
}

export function proxyV2(e: Endpoints | 'local', tlvs: readonly { type: number; value: Buffer }[] = []): Buffer {
  const tlvBytes = Buffer.concat(tlvs.map((t) => Buffer.concat([Buffer.from([t.type, t.value.length >> 8, t.value.length & 0xff]), t.value])));
  let famProto = 0x00;
  let addr = Buffer.alloc(0);
  if (e !== 'local') {
    const v6 = e.src.includes(':');
    famProto = v6 ? 0x21 : 0x11;
    const ip = (s: string): Buffer => (v6 ? parseAddress6(s)! : Buffer.from(s.split('.').map(Number)));
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(e.sport, 0);
    ports.writeUInt16BE(e.dport, 2);
    addr = Buffer.concat([ip(e.src), ip(e.dst), ports]);
  }
  const fixed = Buffer.alloc(16);
  SIG.copy(fixed);
  fixed[12] = e === 'local' ? 0x20 : 0x21;
  fixed[13] = famProto;
  fixed.writeUInt16BE(addr.length + tlvBytes.length, 14);
  return Buffer.concat([fixed, addr, tlvBytes]);
}
