/**
 * LCP Authentication-Protocol (type 3, RFC 1661 §6.2). The server (authenticator) puts it in its
 * own request and walks its allowed list when the peer Naks; it rejects a peer asking to be the
 * authenticator. The client side accepts a method it is willing to do or Naks with its preferred.
 */
import type { AuthProtocol } from '../../config/model.js';
import { lcpAuthOption, methodFromLcpOption } from '../auth/index.js';
import { ACK, REJECT, nak, type OptionHandler, type OptionVerdict } from '../negotiate.js';
import type { ReplyOutcome } from '../fsm.js';

export const LCP_AUTH = 3;
export const NO_COMMON_AUTH = 'no common authentication protocol';

/** The option data (after type/len) that names `method` (ppp.md §3.1). */
export const authOptionData = lcpAuthOption;
/** The method an option names, or undefined (EAP, unknown CHAP algorithms, junk). */
export const methodFromOption = methodFromLcpOption;

/** Server side: offer the allowed methods in order (strongest first), following the peer's Naks. */
export class ServerAuthOption implements OptionHandler {
  readonly type = LCP_AUTH;
  readonly name = 'auth';
  private current: AuthProtocol | undefined;
  private readonly tried = new Set<AuthProtocol>();

  constructor(private readonly allowed: readonly AuthProtocol[]) {
    this.reset();
  }

  /** The method in our current request (the negotiated one once LCP is Opened). */
  get method(): AuthProtocol | undefined {
    return this.current;
  }

  request(): Buffer | undefined {
    return this.current === undefined ? undefined : authOptionData(this.current);
  }

  // No `check`: a peer that wants US to authenticate is rejected (we never authenticate to clients).

  nakked(data: Buffer): ReplyOutcome {
    const suggested = methodFromOption(data);
    const next =
      suggested !== undefined && this.allowed.includes(suggested) && !this.tried.has(suggested)
        ? suggested
        : this.allowed.find((m) => !this.tried.has(m));
    if (next === undefined) return { fail: NO_COMMON_AUTH };
    this.current = next;
    this.tried.add(next);
    return 'ok';
  }

  rejected(): ReplyOutcome {
    return { fail: NO_COMMON_AUTH };
  }

  reset(): void {
    this.tried.clear();
    this.current = this.allowed[0];
    if (this.current !== undefined) this.tried.add(this.current);
  }
}

/** Client side: do what the server asks if we allow it, else Nak with our preferred method. */
export class ClientAuthOption implements OptionHandler {
  readonly type = LCP_AUTH;
  readonly name = 'auth';
  private agreed: AuthProtocol | undefined;

  constructor(private readonly accept: readonly AuthProtocol[]) {}

  /** The method the server will run, once LCP is Opened; undefined = no authentication. */
  get method(): AuthProtocol | undefined {
    return this.agreed;
  }

  check(data: Buffer): OptionVerdict {
    const m = methodFromOption(data);
    if (m !== undefined && this.accept.includes(m)) return ACK;
    const preferred = this.accept[0];
    return preferred === undefined ? REJECT : nak(authOptionData(preferred));
  }

  commit(data: Buffer | undefined): void {
    this.agreed = data ? methodFromOption(data) : undefined;
  }

  reset(): void {
    this.agreed = undefined;
  }
}
