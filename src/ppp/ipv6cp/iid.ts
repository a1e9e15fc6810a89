/**
 * IPV6CP Interface-Identifier (type 1, RFC 5072 §4.1): the 64-bit identifiers that make each end's
 * link-local address fe80::IID. Server, in accel-ppp's roles (ppp/ipv6cp_opt_intfid.c):
 * - our id: `ppp-options ipv6-interface-id` x:x:x:x, else random per session;
 * - the peer's: with `ipv6-accept-peer-interface-id`, the client's own non-zero id is taken; else
 *   the id `ipv6-peer-interface-id` gives (fixed, random per session, from the calling station, or
 *   from the IPv4 address; see `peerIidFor`) is the only one Acked, and Nak'd to the client until
 *   it asks for it; with neither node (sstpd's default) the client keeps its own id unless it is
 *   zero or equal to ours.
 * Whatever the rule, an id equal to ours is never Acked and never suggested: the client is Nak'd
 * with a fresh random one (accel-ppp would Nak it with the clashing id, for ever). Client (our test
 * client): propose a random id, take the server's suggestion.
 */
import { createHmac } from 'node:crypto';
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import { parseInterfaceId } from '../../config/values.js';
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

/** `ppp-options ipv6-interface-id` "a:b:c:d" → 8 bytes (the config layer's parser). */
export const parseIid = parseInterfaceId;

/** `ppp-options ipv6-peer-interface-id`, resolved (VyOS value → accel-ppp `ipv6-peer-intf-id`). */
export type PeerIidRule =
  | { readonly mode: 'fixed'; readonly id: Buffer }
  | { readonly mode: 'random' }
  /** Keyed hash of the calling station (the client's address): `key` is the configured secret. */
  | { readonly mode: 'calling-sid'; readonly key: Buffer }
  | { readonly mode: 'ipv4-addr' };

/** What a session's peer id is derived from. */
export interface PeerIidFacts {
  /** The client's IPv4 address, when it has one. */
  readonly ipv4?: string;
  /** Calling-Station-Id: the client's address. */
  readonly callingSid: string;
}

/**
 * The peer id a rule gives one session, or null when it gives none (`ipv4-addr` without an IPv4
 * address: accel-ppp then stops IPV6CP). `ipv4-addr` writes each octet's decimal digits as a hex
 * group, as accel-ppp does: 10.0.0.5 → ::10:0:0:5. `calling-sid`: upstream accel-ppp leaves the id
 * undefined (uninitialised memory); newer VyOS keys a hash of the calling station with
 * `ipv6-peer-interface-id-secret`. Here: HMAC-SHA-256(key, calling station), first 8 bytes, u/l bit
 * cleared, so a client keeps its id across sessions and nobody without the key can predict it.
 */
export function peerIidFor(rule: PeerIidRule, facts: PeerIidFacts, random: (n: number) => Buffer): Buffer | null {
  switch (rule.mode) {
    case 'fixed':
      return Buffer.from(rule.id);
    case 'random':
      return randomIid(random);
    case 'calling-sid': {
      const iid = createHmac('sha256', rule.key).update(facts.callingSid).digest().subarray(0, IID_LEN);
      iid[0] = iid[0]! & ~0x02;
      return isZero(iid) ? randomIid(random) : Buffer.from(iid);
    }
    case 'ipv4-addr': {
      if (facts.ipv4 === undefined) return null;
      const octets = facts.ipv4.split('.');
      return parseIid(octets.join(':')) ?? null;
    }
  }
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
  /** The id the session's rule gives the peer (startNetwork); undefined: no rule. */
  private wanted: Buffer | undefined;
  private naks = 0;

  /**
   * `fixed`: our id from `ppp-options ipv6-interface-id` (kept even when the peer Naks it); absent:
   * random. `acceptPeer`: `ipv6-accept-peer-interface-id`.
   */
  constructor(
    private readonly random: (n: number) => Buffer,
    private readonly maxFailure: number,
    private readonly fixed?: Buffer,
    private readonly acceptPeer = false,
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

  /** The peer id this session's `ipv6-peer-interface-id` rule gives (kept across renegotiations). */
  setPeerId(id: Buffer | undefined): void {
    this.wanted = id ? Buffer.from(id) : undefined;
  }

  request(): Buffer {
    return this.ours;
  }

  check(data: Buffer): OptionVerdict {
    if (data.length !== IID_LEN) return REJECT;
    const offered = isZero(data) ? undefined : data;
    const wanted = (this.acceptPeer ? offered : undefined) ?? this.wanted ?? offered;
    if (wanted === undefined || wanted.equals(this.ours)) return nak(randomIid(this.random, this.ours));
    return offered !== undefined && offered.equals(wanted) ? ACK : nak(wanted);
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
