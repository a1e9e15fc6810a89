/**
 * PPP protocol numbers (RFC 1661 §2, assigned numbers) and the vocabulary shared by the PPP
 * layer's pieces. Kept apart from the link (link/link-core.ts) so LCP/IPCP can use it without an
 * import cycle.
 */
export const PPP_IPV4 = 0x0021;
export const PPP_IPV6 = 0x0057;
export const PPP_MPPE = 0x00fd;
export const PPP_IPCP = 0x8021;
export const PPP_IPV6CP = 0x8057;
export const PPP_CCP = 0x80fd;
export const PPP_LCP = 0xc021;
export const PPP_PAP = 0xc023;
export const PPP_CHAP = 0xc223;
export const PPP_EAP = 0xc227;

const NAMES: ReadonlyMap<number, string> = new Map([
  [PPP_IPV4, 'IPv4'],
  [PPP_IPV6, 'IPv6'],
  [PPP_MPPE, 'MPPE'],
  [PPP_IPCP, 'IPCP'],
  [PPP_IPV6CP, 'IPV6CP'],
  [PPP_CCP, 'CCP'],
  [PPP_LCP, 'LCP'],
  [PPP_PAP, 'PAP'],
  [PPP_CHAP, 'CHAP'],
  [PPP_EAP, 'EAP'],
]);

export function protocolName(p: number): string {
  return NAMES.get(p) ?? `0x${p.toString(16).padStart(4, '0')}`;
}

/** Why a PPP link ended; the names follow RADIUS Acct-Terminate-Cause (RFC 2866 §5.10). */
export type TerminateCause =
  | 'user-request'
  | 'lost-carrier'
  | 'admin-reset'
  | 'auth-failed'
  | 'nas-error'
  | 'port-error'
  | 'session-timeout'
  | 'idle-timeout';

export type LogLevel = 'debug' | 'info' | 'warn';
export type LogFields = Record<string, string | number>;
export type LogFn = (level: LogLevel, event: string, fields?: LogFields) => void;
