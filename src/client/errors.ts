/**
 * Why a client connection failed, as a stable code, a process exit code and a message that names the
 * layer: the CLI, the load generator and scripts all read failures the same way.
 */
import { SstpdError } from '../common/errors.js';

/** How far a connection got: tcp → tls → http → sstp → lcp → auth → ipcp → up. */
export type ClientStage = 'tcp' | 'tls' | 'http' | 'sstp' | 'lcp' | 'auth' | 'ipcp' | 'up';

export const ClientErrorCode = {
  USAGE: 'E_CLIENT_USAGE',
  TCP: 'E_CLIENT_TCP',
  TLS: 'E_CLIENT_TLS',
  HTTP: 'E_CLIENT_HTTP',
  SSTP_NAK: 'E_CLIENT_SSTP_NAK',
  SSTP: 'E_CLIENT_SSTP',
  AUTH: 'E_CLIENT_AUTH',
  PPP: 'E_CLIENT_PPP',
  IPCP: 'E_CLIENT_IPCP',
  TIMEOUT: 'E_CLIENT_TIMEOUT',
  TUN: 'E_CLIENT_TUN',
  /** The link was up and then went down without us asking. */
  LINK_LOST: 'E_CLIENT_LINK_LOST',
} as const;
export type ClientErrorCodeValue = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Process exit status per failure (0 = connected and disconnected cleanly). */
export const EXIT_CODES: Readonly<Record<ClientErrorCodeValue, number>> = {
  E_CLIENT_USAGE: 2,
  E_CLIENT_TCP: 3,
  E_CLIENT_TLS: 4,
  E_CLIENT_HTTP: 5,
  E_CLIENT_SSTP_NAK: 6,
  E_CLIENT_SSTP: 6,
  E_CLIENT_AUTH: 7,
  E_CLIENT_PPP: 8,
  E_CLIENT_IPCP: 9,
  E_CLIENT_TIMEOUT: 10,
  E_CLIENT_TUN: 11,
  E_CLIENT_LINK_LOST: 12,
};

export class ClientError extends SstpdError {
  declare readonly code: ClientErrorCodeValue;
  constructor(
    code: ClientErrorCodeValue,
    message: string,
    readonly stage: ClientStage,
    /** The server's own words, when it gave any (auth failure text, HTTP status, SSTP status). */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }

  toJSON(): Record<string, string> {
    return { state: 'failed', error: this.code, stage: this.stage, message: this.message, ...(this.detail !== undefined ? { detail: this.detail } : {}) };
  }
}

/**
 * The message part of an MS-CHAP failure (`E=691 R=0 C=… V=3 M=Authentication failed`), or the text
 * as it came (PAP Nak message, CHAP Failure text).
 */
export function authFailureText(message: string): string {
  const m = /(?:^|\s)M=(.*)$/s.exec(message);
  const e = /(?:^|\s)E=(\d+)/.exec(message);
  const text = (m?.[1] ?? (e ? '' : message)).trim();
  return e ? `${text || 'authentication failed'} (error ${e[1]})` : text || 'authentication failed';
}

/**
 * The failure a closed core reports, by its close code and the stage it had reached.
 * `authMessage` is set when the server refused our credentials.
 */
export function classifyClose(code: string, reason: string, stage: ClientStage, authMessage: string | undefined): ClientError {
  if (authMessage !== undefined) {
    const text = authFailureText(authMessage);
    return new ClientError(ClientErrorCode.AUTH, `authentication failed: ${text}`, 'auth', authMessage);
  }
  if (code === 'E_SSTP_NAK') return new ClientError(ClientErrorCode.SSTP_NAK, `SSTP: ${reason}`, 'sstp', reason);
  if (code.startsWith('E_SSTP_HTTP')) return new ClientError(ClientErrorCode.HTTP, `HTTP: ${reason}`, 'http', reason);
  if (code === 'E_SSTP_NEGOTIATION_TIMEOUT') return new ClientError(ClientErrorCode.TIMEOUT, `SSTP negotiation timed out in stage ${stage}`, stage);
  switch (stage) {
    case 'tcp':
    case 'tls':
    case 'http':
      return new ClientError(ClientErrorCode.HTTP, 'HTTP: the server closed the connection without answering the SSTP request', 'http', reason);
    case 'sstp':
      return new ClientError(ClientErrorCode.SSTP, `SSTP: call not accepted (${code}: ${reason})`, 'sstp', reason);
    case 'lcp':
      return new ClientError(ClientErrorCode.PPP, `PPP: LCP did not open (${code}: ${reason})`, 'lcp', reason);
    case 'auth':
      return new ClientError(ClientErrorCode.AUTH, `authentication did not complete (${code}: ${reason})`, 'auth', reason);
    case 'ipcp':
      return new ClientError(ClientErrorCode.IPCP, `IPCP did not open (${code}: ${reason})`, 'ipcp', reason);
    case 'up':
      return new ClientError(ClientErrorCode.LINK_LOST, `link lost (${code}: ${reason})`, 'up', reason);
  }
}
