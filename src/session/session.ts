/**
 * One client connection as a sans-I/O core: the HTTP handshake, then SSTP, then PPP, composed.
 * Bytes, backend answers and timeouts go in; actions come out of `poll()`. The driver
 * (session/driver.ts) owns the socket, the TUN device, the timer and the auth backend.
 *
 * Cross-layer signals are values, not calls: SSTP accepted the call → PPP lower-up; PPP
 * authenticated → SSTP gets the HLAK (and checks a deferred Call Connected); binding verified →
 * data may flow; PPP finished → SSTP disconnect; SSTP closed → PPP lower-down.
 */
import type { AuthAccept, AuthRequest, AuthResult } from '../auth/backend.js';
import type { AuthProtocol } from '../config/model.js';
import { minDeadline, type Millis } from '../common/time.js';
import { checkSstpRequest, HttpRequestReader, http200, httpError } from '../sstp/http.js';
import { SstpServer } from '../sstp/server.js';
import { PppLink, type TerminateCause as PppTerminateCause } from '../ppp/link.js';
import { createAuthenticator } from '../ppp/auth/index.js';

export const PROTO_IPV4 = 0x0021;

/** Everything a session needs from its configuration generation, frozen at accept time. */
export interface SessionPolicy {
  readonly authProtocols: readonly AuthProtocol[];
  readonly gateway: string;
  readonly dns: readonly string[];
  readonly mru: number;
  readonly echo: { readonly intervalS: number; readonly failure: number; readonly timeoutS: number };
  readonly certHashes: { readonly sha1: Buffer; readonly sha256: Buffer };
  readonly serverName: string;
  /** From accept to SSTP Call Connected verified (covers HTTP + SSTP negotiation), ms. */
  readonly negotiationTimeoutMs: number;
  readonly helloIntervalMs: number;
}

export type SessionAction =
  | { readonly type: 'send'; readonly bytes: Buffer }
  | { readonly type: 'close'; readonly reason: string }
  | { readonly type: 'authenticate'; readonly request: AuthRequest }
  | { readonly type: 'authenticated'; readonly result: AuthAccept }
  | { readonly type: 'auth-failed'; readonly username: string | undefined; readonly reason: string }
  | { readonly type: 'link-up'; readonly local: string; readonly peer: string; readonly mtu: number }
  | { readonly type: 'link-down' }
  | { readonly type: 'ip'; readonly packet: Buffer }
  | { readonly type: 'ended'; readonly cause: string; readonly reason: string }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn'; readonly event: string; readonly fields?: Record<string, string | number> };

type Phase = 'http' | 'sstp' | 'closed';

export class Session {
  private phase: Phase = 'http';
  private readonly http = new HttpRequestReader();
  private sstp: SstpServer | undefined;
  private readonly ppp: PppLink;
  private readonly out: SessionAction[] = [];
  private readonly httpDeadline: Millis;
  private ipUp = false;
  private endedEmitted = false;
  private closeEmitted = false;
  private endCause: { cause: string; reason: string } | undefined;
  private ipSink: ((packet: Buffer) => void) | undefined;
  username: string | undefined;

  constructor(
    private readonly policy: SessionPolicy,
    private readonly random: (n: number) => Buffer,
    now: Millis,
    /** Wall-clock time for the HTTP Date header (cores never read a clock themselves). */
    private readonly wallClock: () => Date,
  ) {
    this.httpDeadline = now + policy.negotiationTimeoutMs;
    this.ppp = new PppLink({
      mru: policy.mru,
      authProtocols: policy.authProtocols,
      makeAuthenticator: (m) => createAuthenticator(m, { random, serverName: policy.serverName }),
      echo: policy.echo,
      dns: policy.dns,
      random,
    });
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** Bytes from the TLS stream. */
  receive(now: Millis, chunk: Buffer): void {
    if (this.phase === 'http') this.receiveHttp(now, chunk);
    else if (this.phase === 'sstp') this.sstp!.receive(now, chunk);
    this.pump(now);
  }

  private receiveHttp(now: Millis, chunk: Buffer): void {
    const r = this.http.feed(chunk);
    if (r.kind === 'need-more') return;
    if (r.kind === 'error') return this.httpFail(r.status, r.reason);
    const ok = checkSstpRequest(r.request);
    if (!ok.ok) return this.httpFail(ok.status, ok.reason);
    this.out.push({ type: 'send', bytes: http200(this.wallClock()) });
    this.log('debug', 'http-request', { uri: r.request.uri });
    this.phase = 'sstp';
    this.sstp = new SstpServer(
      {
        certHashes: this.policy.certHashes,
        hashBitmask: 3,
        random: this.random,
        negotiationTimeoutMs: Math.max(1, this.httpDeadline - now),
        helloIntervalMs: this.policy.helloIntervalMs,
      },
      now,
    );
    if (this.ipSink) this.sstp.dataSink = (t, frame) => this.fastIp(t, frame);
    if (r.rest.length > 0) this.sstp.receive(now, r.rest);
  }

  /**
   * Data fast lane: while forwarding, IPv4 from the client goes straight to `sink` (a view, valid
   * during the call) instead of becoming an 'ip' action: no objects per packet. Set before the first
   * bytes arrive; frames in other shapes (PFC, ACFC) still take the action path.
   */
  setIpSink(sink: (packet: Buffer) => void): void {
    this.ipSink = sink;
  }

  private fastIp(now: Millis, frame: Buffer): boolean {
    if (!this.ipUp || frame.length <= 4 || frame[0] !== 0xff || frame[1] !== 0x03 || frame[2] !== 0x00 || frame[3] !== 0x21) return false;
    this.ppp.activity(now);
    this.ipSink!(frame.subarray(4));
    return true;
  }

  private httpFail(status: number, reason: string): void {
    this.log('info', 'http-rejected', { status, reason });
    this.out.push({ type: 'send', bytes: httpError(status) });
    this.finish('http-error', `HTTP ${status}: ${reason}`);
  }

  /** The backend's answer to an 'authenticate' action. */
  authResult(now: Millis, result: AuthResult): void {
    if (this.phase !== 'sstp') return;
    this.ppp.authResult(now, result);
    this.pump(now);
  }

  /** The driver leased an address after 'authenticated'; `dns` overrides the policy's for this session. */
  addressAssigned(now: Millis, ip: string, dns?: readonly (string | undefined)[]): void {
    if (this.phase !== 'sstp') return;
    this.ppp.setAddresses(now, this.policy.gateway, ip, dns);
    this.pump(now);
  }

  /** IPv4 may flow to the client: IPCP is opened and the SSTP crypto binding was verified. */
  get forwardingIp(): boolean {
    return this.ipUp && this.sstp !== undefined && this.sstp.connected;
  }

  /** Operator or policy ends the session: PPP Terminate, then SSTP Call Disconnect. */
  terminate(now: Millis, cause: PppTerminateCause, reason: string): void {
    if (this.phase === 'closed') return;
    this.endCause ??= { cause, reason };
    if (this.phase === 'http' || !this.sstp) {
      this.finish(cause, reason);
    } else {
      this.ppp.close(now, cause, reason);
    }
    this.pump(now);
  }

  /** TLS/TCP closed under us. */
  transportClosed(now: Millis): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'sstp') this.ppp.lowerDown(now);
    this.pump(now);
    this.finish(this.endCause?.cause ?? 'lost-carrier', this.endCause?.reason ?? 'connection closed by peer');
  }

  nextDeadline(): Millis | undefined {
    if (this.phase === 'closed') return undefined;
    if (this.phase === 'http') return this.httpDeadline;
    return minDeadline(this.sstp?.nextDeadline(), this.ppp.nextDeadline());
  }

  handleTimeout(now: Millis): void {
    if (this.phase === 'http') {
      if (now >= this.httpDeadline) {
        this.log('info', 'http-timeout');
        this.finish('nas-error', 'no SSTP request before the negotiation timeout');
      }
      return;
    }
    if (this.phase !== 'sstp') return;
    this.sstp!.handleTimeout(now);
    this.ppp.handleTimeout(now);
    this.pump(now);
  }

  poll(): SessionAction[] {
    return this.out.splice(0, this.out.length);
  }

  /** Drain both cores until neither has anything left: each may feed the other. */
  private pump(now: Millis): void {
    for (let guard = 0; guard < 1000; guard++) {
      let moved = false;
      if (this.sstp) {
        for (const ev of this.sstp.poll()) {
          moved = true;
          this.onSstp(now, ev);
        }
      }
      for (const ev of this.ppp.poll()) {
        moved = true;
        this.onPpp(now, ev);
      }
      if (!moved) return;
    }
    throw new Error('session: event loop between SSTP and PPP did not settle');
  }

  private onSstp(now: Millis, ev: ReturnType<SstpServer['poll']>[number]): void {
    switch (ev.type) {
      case 'send':
        this.out.push({ type: 'send', bytes: ev.bytes });
        return;
      case 'lower-up':
        this.ppp.lowerUp(now);
        return;
      case 'ppp':
        this.ppp.receive(now, ev.frame);
        return;
      case 'connected':
        this.log('info', 'sstp-connected');
        return;
      case 'close':
        if (this.phase !== 'closed') {
          this.ppp.lowerDown(now);
          for (const p of this.ppp.poll()) if (p.type === 'log') this.out.push(p);
          this.finish(this.endCause?.cause ?? 'port-error', this.endCause?.reason ?? `${ev.code}: ${ev.reason}`);
        }
        return;
      case 'log':
        this.out.push(ev.fields ? { type: 'log', level: ev.level, event: ev.event, fields: ev.fields } : { type: 'log', level: ev.level, event: ev.event });
        return;
    }
  }

  private onPpp(now: Millis, ev: ReturnType<PppLink['poll']>[number]): void {
    switch (ev.type) {
      case 'send':
        if (this.sstp && !this.sstp.closed) this.out.push({ type: 'send', bytes: this.sstp.encodeData(ev.frame) });
        return;
      case 'verify':
        this.username = ev.request.username;
        this.out.push({ type: 'authenticate', request: ev.request });
        return;
      case 'authenticated':
        this.username = ev.result.username;
        this.sstp?.setHlak(now, ev.result.hlak);
        this.out.push({ type: 'authenticated', result: ev.result });
        return;
      case 'auth-failed':
        this.out.push({ type: 'auth-failed', username: ev.username, reason: ev.reason });
        this.endCause ??= { cause: 'auth-failed', reason: ev.reason };
        return;
      case 'ipcp-up':
        this.ipUp = true;
        // PAP/CHAP-MD5 carry no keys; sstpc never sends Call Connected after CHAP-MD5 (see SstpServer).
        if (this.sstp && !this.sstp.connected) this.sstp.waiveZeroKeyBinding(now);
        this.out.push({ type: 'link-up', local: ev.local, peer: ev.peer, mtu: Math.min(ev.peerMru, this.policy.mru) });
        return;
      case 'ipcp-down':
        if (this.ipUp) this.out.push({ type: 'link-down' });
        this.ipUp = false;
        return;
      case 'data':
        if (ev.protocol === PROTO_IPV4 && this.ipUp && this.sstp?.connected) this.out.push({ type: 'ip', packet: ev.payload });
        return;
      case 'finished':
        this.endCause ??= { cause: ev.cause, reason: ev.reason };
        if (this.ipUp) this.out.push({ type: 'link-down' });
        this.ipUp = false;
        // PPP is over: tell the client at the SSTP level, then close once acknowledged or timed out.
        if (this.sstp && !this.sstp.closed) this.sstp.disconnect(now);
        else this.finish(this.endCause.cause, this.endCause.reason);
        return;
      case 'log':
        this.out.push(ev.fields ? { type: 'log', level: ev.level, event: ev.event, fields: ev.fields } : { type: 'log', level: ev.level, event: ev.event });
        return;
    }
  }

  private finish(cause: string, reason: string): void {
    if (this.ipUp) this.out.push({ type: 'link-down' });
    this.ipUp = false;
    this.phase = 'closed';
    if (!this.closeEmitted) {
      this.closeEmitted = true;
      this.out.push({ type: 'close', reason });
    }
    if (!this.endedEmitted) {
      this.endedEmitted = true;
      this.out.push({ type: 'ended', cause, reason });
    }
  }

  private log(level: 'debug' | 'info' | 'warn', event: string, fields?: Record<string, string | number>): void {
    this.out.push(fields ? { type: 'log', level, event, fields } : { type: 'log', level, event });
  }
}
