/**
 * Hostile input for soak sessions, sent after the link is up. Two sorts:
 *
 * - PPP garbage the server must shrug off (Protocol-Reject, Code-Reject or drop) and stay up: unknown
 *   protocols, unknown LCP/IPCP codes, truncated frames, LCP echoes with bad lengths, junk IPv4.
 *   Codes that renegotiate or end a link (Configure-*, Terminate-*, Code-/Protocol-Reject) are left
 *   out on purpose: those are legitimate ways to end a session, not garbage.
 * - SSTP input after which the server must end the session on its own: a broken header (the stream
 *   cannot be delineated any more: close without a word), or a malformed / unexpected control packet
 *   (Call Abort, then close).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { callConnectRequest, dataPacket } from '../../src/sstp/wire.js';

export const FATAL_KINDS = ['bad-version', 'short-length', 'attribute-overrun', 'attribute-count', 'unexpected-connect-request'] as const;
export type FatalKind = (typeof FATAL_KINDS)[number];

const ppp = (...parts: (number[] | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));

/** One PPP frame of garbage (address/control included), of a random sort. */
function garbageFrame(): Buffer {
  const junk = randomBytes(randomInt(0, 40));
  switch (randomInt(0, 6)) {
    case 0: // an unknown protocol (odd low byte, as PPP protocol numbers are): Protocol-Reject
      return ppp([0xff, 0x03, 0x8f, 0x41 + 2 * randomInt(0, 40)], junk);
    case 1: // LCP with an unknown code: Code-Reject
      return ppp([0xff, 0x03, 0xc0, 0x21, randomInt(12, 256), randomInt(0, 256)], [0, 4 + junk.length], junk);
    case 2: // LCP Echo-Request / Discard-Request whose length field lies
      return ppp([0xff, 0x03, 0xc0, 0x21, [9, 11][randomInt(0, 2)]!, randomInt(0, 256), 0x0f, 0xff], junk);
    case 3: // IPCP with an unknown code
      return ppp([0xff, 0x03, 0x80, 0x21, randomInt(8, 256), randomInt(0, 256), 0x00, 0x04]);
    case 4: // truncated: no protocol, half a protocol, a header only
      return [ppp([0xff]), ppp([0xff, 0x03]), ppp([0xff, 0x03, 0xc0]), ppp([0xff, 0x03, 0xc0, 0x21])][randomInt(0, 4)]!;
    default: // junk behind the IPv4 protocol number: the kernel behind the TUN drops it
      return ppp([0xff, 0x03, 0x00, 0x21], junk);
  }
}

/** `n` SSTP data packets of PPP garbage, as one buffer. */
export function pppGarbage(n: number): Buffer {
  return Buffer.concat(Array.from({ length: n }, () => dataPacket(garbageFrame())));
}

/** SSTP bytes after which the server must end the session. */
export function fatalBytes(kind: FatalKind): Buffer {
  switch (kind) {
    case 'bad-version': // version 2.0: framing lost
      return Buffer.from([0x20, 0x00, 0x00, 0x08, 0, 0, 0, 0]);
    case 'short-length': // a data packet of 2 bytes, shorter than its own header
      return Buffer.from([0x10, 0x00, 0x00, 0x02]);
    case 'attribute-overrun': // Echo Request with one attribute claiming 255 bytes
      return Buffer.from([0x10, 0x01, 0x00, 0x0c, 0x00, 0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0xff]);
    case 'attribute-count': // Echo Request announcing 3 attributes, carrying none
      return Buffer.from([0x10, 0x01, 0x00, 0x08, 0x00, 0x08, 0x00, 0x03]);
    case 'unexpected-connect-request': // a well-formed Call Connect Request on a connected call
      return callConnectRequest();
  }
}
