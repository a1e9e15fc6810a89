/**
 * The HTTP/1.1 handshake that opens an SSTP connection (MS-SSTP §3.2.4.1, §3.3.7.2, §4.1), sans-I/O.
 * Only the header block is HTTP: after the blank line the stream is raw SSTP, so the readers hand
 * back the bytes that followed it (`rest`) for the SSTP framer.
 */
import { SstpdError } from '../common/errors.js';

/** Cap on the request/response header block, blank line included. */
export const HEADER_BLOCK_MAX = 8192;
export const SSTP_URI = '/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/';
export const SSTP_METHOD = 'SSTP_DUPLEX_POST';
/** ULONGLONG_MAX: both directions announce an "infinite" body. */
export const SSTP_CONTENT_LENGTH = '18446744073709551615';

export interface HttpRequest {
  readonly method: string;
  readonly uri: string;
  readonly version: string;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Map<string, string>;
}

export type HttpReadResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'request'; readonly request: HttpRequest; readonly rest: Buffer }
  | { readonly kind: 'error'; readonly status: number; readonly reason: string };

export interface HttpResponse {
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  readonly headers: Map<string, string>;
}

export type HttpResponseReadResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'response'; readonly response: HttpResponse; readonly rest: Buffer }
  | { readonly kind: 'error'; readonly reason: string };

type BlockResult = { kind: 'need-more' } | { kind: 'too-large' } | { kind: 'block'; lines: string[]; rest: Buffer };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Collects bytes up to the first empty line (CRLF or bare LF line ends) into a fixed buffer, so a
 * slow or hostile peer can never make it hold more than HEADER_BLOCK_MAX bytes.
 */
class HeaderBlockReader {
  /**
   * Taken at the first byte and let go with the result: a session keeps its reader for life, and
   * 8 KiB of it per session, held in memory the garbage collector accounts for, was worth nothing.
   */
  private buf: Buffer | undefined;
  private used = 0;
  /** Scanning resumes here; earlier LFs are known not to end the block. */
  private scanned = 0;
  private done = false;

  feed(chunk: Buffer): BlockResult {
    if (this.done) throw new SstpdError('E_HTTP_DONE', 'http: header block already complete');
    const before = this.used;
    const buf = (this.buf ??= Buffer.alloc(HEADER_BLOCK_MAX));
    const n = chunk.copy(buf, this.used, 0, Math.min(chunk.length, HEADER_BLOCK_MAX - this.used));
    this.used += n;
    const end = this.findEnd(buf);
    if (end !== undefined) {
      this.finish();
      const text = buf.toString('latin1', 0, end.lineEnd);
      return { kind: 'block', lines: text.split('\n').map(stripCr), rest: chunk.subarray(end.blockEnd - before) };
    }
    if (this.used === HEADER_BLOCK_MAX) {
      this.finish();
      return { kind: 'too-large' };
    }
    return { kind: 'need-more' };
  }

  private finish(): void {
    this.done = true;
    this.buf = undefined;
  }

  /** An LF followed by LF or CRLF ends the block. Stops where lookahead bytes are missing. */
  private findEnd(b: Buffer): { lineEnd: number; blockEnd: number } | undefined {
    for (let i = this.scanned; i < this.used; i++) {
      if (b[i] !== LF) continue;
      if (i + 1 >= this.used) return this.wait(i);
      if (b[i + 1] === LF) return { lineEnd: i, blockEnd: i + 2 };
      if (b[i + 1] === CR) {
        if (i + 2 >= this.used) return this.wait(i);
        if (b[i + 2] === LF) return { lineEnd: i, blockEnd: i + 3 };
      }
    }
    this.scanned = this.used;
    return undefined;
  }

  private wait(i: number): undefined {
    this.scanned = i;
    return undefined;
  }
}

const stripCr = (line: string): string => (line.endsWith('\r') ? line.slice(0, -1) : line);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VERSION = /^HTTP\/\d\.\d$/;
/**
 * Control characters other than HTAB: never valid in a field value (RFC 9110 §5.5). A NUL or a lone
 * CR is what request smuggling and header injection are made of, so such a request is refused
 * rather than cleaned up. (Bytes ≥ 0x80, obs-text, stay allowed.)
 */
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** The request target: no controls and no spaces (RFC 9112 §3.2). */
const BAD_TARGET = /[\x00-\x20\x7f]/;

/** Header lines → map, or why a line is malformed (no colon, bad name, obsolete folding, control bytes). */
function parseHeaders(lines: readonly string[]): Map<string, string> | string {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'malformed header line';
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return 'malformed header line';
    if (CTL.test(line)) return 'control character in a header line';
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    const prev = headers.get(key);
    headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  return headers;
}

/** Reads the client's request line and headers. One request only: feeding after a final result throws E_HTTP_DONE. */
export class HttpRequestReader {
  private readonly block = new HeaderBlockReader();

  feed(chunk: Buffer): HttpReadResult {
    const b = this.block.feed(chunk);
    if (b.kind === 'need-more') return b;
    if (b.kind === 'too-large') return { kind: 'error', status: 431, reason: 'request header block too large' };
    const [requestLine = '', ...headerLines] = b.lines;
    const parts = requestLine.split(' ');
    if (parts.length !== 3) return { kind: 'error', status: 400, reason: 'malformed request line' };
    const [method = '', uri = '', version = ''] = parts;
    if (!TOKEN.test(method) || uri === '' || BAD_TARGET.test(uri) || !VERSION.test(version)) {
      return { kind: 'error', status: 400, reason: 'malformed request line' };
    }
    const headers = parseHeaders(headerLines);
    if (typeof headers === 'string') return { kind: 'error', status: 400, reason: headers };
    return { kind: 'request', request: { method, uri, version, headers }, rest: b.rest };
  }
}

export type SstpRequestCheck = { readonly ok: true } | { readonly ok: false; readonly status: number; readonly reason: string };

/**
 * Is this an SSTP request? With `hostName` (`host-name`), a Host header naming another host → 404,
 * as accel-ppp answers it. Not HTTP/1.1 → 400 (MS-SSTP §2.2.1 requires 1.1; Windows, sstpc and
 * Open-SSTP-Client all send it); GET → 404; `SSTP_DUPLEX_POST` or `GET` in another letter case →
 * 400 (methods are case-sensitive, RFC 9110 §9.1: that is a broken client, not another method);
 * any other method → 501; wrong URI → 404. The URI compares case-insensitively (the GUID's hex
 * digits come in either case); a `?query` (e.g. tenantid, §3.2.4.1) is ignored.
 */
export function checkSstpRequest(req: HttpRequest, hostName?: string): SstpRequestCheck {
  if (req.version !== 'HTTP/1.1') return { ok: false, status: 400, reason: `unsupported version ${req.version}` };
  if (req.method === 'GET') return { ok: false, status: 404, reason: 'GET is not served' };
  if (req.method !== SSTP_METHOD) {
    const upper = req.method.toUpperCase();
    if (upper === SSTP_METHOD || upper === 'GET') {
      return { ok: false, status: 400, reason: `method ${req.method}: method names are case-sensitive` };
    }
    return { ok: false, status: 501, reason: `method ${req.method} not implemented` };
  }
  if (hostName !== undefined && !hostHeaderNames(req.headers.get('host'), hostName)) {
    return { ok: false, status: 404, reason: `Host ${req.headers.get('host') ?? '(none)'} is not ${hostName}` };
  }
  const q = req.uri.indexOf('?');
  const path = q < 0 ? req.uri : req.uri.slice(0, q);
  if (path.toLowerCase() !== SSTP_URI.toLowerCase()) return { ok: false, status: 404, reason: 'not the SSTP URI' };
  return { ok: true };
}

/**
 * Does a Host header name `hostName` (`host-name`)? As accel-ppp: the port is stripped and the
 * name compares case-insensitively; a missing Host names nothing. A bracketed IPv6 literal keeps
 * its brackets off, so `[::1]:443` is `::1`.
 */
export function hostHeaderNames(host: string | undefined, hostName: string): boolean {
  if (host === undefined) return false;
  const h = host.trim();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']')) : h.replace(/:\d*$/, '');
  return name.toLowerCase() === hostName.toLowerCase();
}

/** The SSTPCORRELATIONID header (a GUID in braces from Windows, sstpc, Open-SSTP-Client), for logs. */
export const correlationId = (req: HttpRequest): string | undefined => req.headers.get('sstpcorrelationid');

/**
 * The 200 that opens the SSTP stream, in the shape every known client parses: status line exactly
 * `HTTP/1.1 200 OK`, Content-Length 2^64-1 (sstpc rejects anything else), no more than 6 header
 * lines (sstpc's header array), no Connection or Transfer-Encoding.
 */
export function http200(date: Date): Buffer {
  return Buffer.from(
    'HTTP/1.1 200 OK\r\n' +
      `Content-Length: ${SSTP_CONTENT_LENGTH}\r\n` +
      'Server: Microsoft-HTTPAPI/2.0\r\n' +
      `Date: ${date.toUTCString()}\r\n` +
      '\r\n',
    'latin1',
  );
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** An error response: the last bytes on the connection (no body; the caller closes after it). */
export function httpError(status: number): Buffer {
  const reason = REASONS[status] ?? 'Error';
  return Buffer.from(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 'latin1');
}

/** The client's request (MS-SSTP §4.1 layout, sstpc's header order). */
export function sstpRequest(host: string, correlationGuid: string): Buffer {
  return Buffer.from(
    `${SSTP_METHOD} ${SSTP_URI} HTTP/1.1\r\n` +
      `Host: ${host}\r\n` +
      `Content-Length: ${SSTP_CONTENT_LENGTH}\r\n` +
      `SSTPCORRELATIONID: ${correlationGuid}\r\n` +
      '\r\n',
    'latin1',
  );
}

/** Reads the server's status line and headers (client side). */
export class HttpResponseReader {
  private readonly block = new HeaderBlockReader();

  feed(chunk: Buffer): HttpResponseReadResult {
    const b = this.block.feed(chunk);
    if (b.kind === 'need-more') return b;
    if (b.kind === 'too-large') return { kind: 'error', reason: 'response header block too large' };
    const [statusLine = '', ...headerLines] = b.lines;
    const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
    if (!m) return { kind: 'error', reason: 'malformed status line' };
    const headers = parseHeaders(headerLines);
    if (typeof headers === 'string') return { kind: 'error', reason: headers };
    const response = { version: m[1]!, status: Number(m[2]), reason: m[3] ?? '', headers };
    return { kind: 'response', response, rest: b.rest };
  }
}
