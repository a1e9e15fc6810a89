/**
 * IPV6CP Interface-Identifier (type 1, RFC 5072 §4.1): the 64-bit identifiers that make each end's
 * link-local address fe80::IID. Server (accel-ppp's roles): our id is random; the peer keeps its
 * own unless it is zero or equal to ours, then it is Nak'd with a fresh random one — so the two
 * ends never collide. Client (our test client): propose a random id, take the server's suggestion.
 */
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import type { ReplyOutcome } from '../fsm.js';

export const IPV6CP_IID = 1;
export const IID_LEN = 8;

const isZero = (b: Buffer): boolean => b.every((x) => x === 0);

/** A random non-zero identifier with the universal/local bit cleared (RFC 5072 §4.1: locally assigned). */
export function randomIid(random: (n: number) => Buffer, not?: Buffer): Buffer {
  for (;;) {
    const iid = Buffer.from(random(IID_LEN));
    iid[0] = iid[0]! & ~0x02;
    if (!isZero(iid) && !(not && iid.equals(not))) return iid;
  }
}

/**
 * `ppp-options ipv6-interface-id` "a:b:c:d" → 8 bytes: four 16-bit groups written as in an IPv6
 * address (hex), e.g. "0:0:0:1" → ::1. Undefined for anything else, or for the all-zero id.
 */
export function parseIid(text: string): Buffer | undefined {
  const groups = text.split(':');
  if (groups.length !== 4 || !groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const iid = Buffer.alloc(IID_LEN);
  groups.forEach((g, i) => iid.writeUInt16BE(parseInt(g, 16), 2 * i));
  return isZero(iid) ? undefined : iid;
}

/** "fe80::a:b:c:d" for an identifier. */
export function linkLocal(iid: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < IID_LEN; i += 2) groups.push(iid.readUInt16BE(i).toString(16));
  return `fe80::${groups.join(':')}`;
}

export class ServerIidOption implements OptionHandler {
  readonly type = IPV6CP_IID;
  readonly name = 'interface-id';
  private ours: Buffer;
  private peer: Buffer | undefined;
  private naks = 0;

  /** `fixed`: our id from `ppp-options ipv6-interface-id` (kept even when the peer Naks it); absent: random. */
  constructor(
    private readonly random: (n: number) => Buffer,
    private readonly maxFailure: number,
    private readonly fixed?: Buffer,
  ) {
    this.ours = fixed ? Buffer.from(fixed) : randomIid(random);
  }

  get local(): Buffer {
    return this.ours;
  }
  /** The peer's identifier once we Acked it (undefined if it never sent one). */
  get remote(): Buffer | undefined {
    return this.peer;
  }

  request(): Buffer {
    return this.ours;
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== IID_LEN) return REJECT;
    if (isZero(data) || data.equals(this.ours)) return nak(randomIid(this.random, this.ours));
    return ACK;
  }

  commit(data: Buffer | undefined): void {
    this.peer = data ? Buffer.from(data) : undefined;
  }

  nakked(data: Buffer): ReplyOutcome {
    if (data.length !== IID_LEN) return 'invalid';
    this.naks++;
    if (this.naks >= this.maxFailure) return { fail: 'peer keeps refusing our IPV6CP interface identifier' };
    if (this.fixed) return 'ok'; // configured: asked for again, up to Max-Failure
    // Take the peer's suggestion unless it would collide; then pick another at random.
    const clash = isZero(data) || (this.peer !== undefined && data.equals(this.peer));
    this.ours = clash ? randomIid(this.random, this.peer) : Buffer.from(data);
    return 'ok';
  }

  rejected(): ReplyOutcome {
    // Without our id the peer cannot know our link-local address; RAs still come from it.
    return 'ok';
  }

  reset(): void {
    this.naks = 0;
    this.peer = undefined;
  }
}

export class ClientIidOption implements OptionHandler {
  readonly type = IPV6CP_IID;
  readonly name = 'interface-id';
  private ours: Buffer;
  private theirs: Buffer | undefined;

  constructor(private readonly random: (n: number) => Buffer) {
    this.ours = randomIid(random);
  }

  get local(): Buffer {
    return this.ours;
  }
  get remote(): Buffer | undefined {
    return this.theirs;
  }

  request(): Buffer {
    return this.ours;
  }

  nakked(data: Buffer): ReplyOutcome {
    if (data.length !== IID_LEN || isZero(data)) return 'invalid';
    this.ours = Buffer.from(data);
    return 'ok';
  }

  rejected(): ReplyOutcome {
    return { fail: 'server rejected the Interface-Identifier option' };
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== IID_LEN) return REJECT;
    return isZero(data) || data.equals(this.ours) ? nak(randomIid(this.random, this.ours)) : ACK;
  }

  commit(data: Buffer | undefined): void {
    this.theirs = data ? Buffer.from(data) : undefined;
  }
}
