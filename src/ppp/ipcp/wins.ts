/**
 * IPCP Primary/Secondary-NBNS-Address (130/132, RFC 1877): answered from `wins-server` like the
 * DNS slots (Nak to the configured server, Ack it); a slot with no server is rejected, as
 * accel-ppp does (Windows asks for both whether or not WINS is in use).
 */
import { ServerDnsOption } from './dns.js';

export const IPCP_NBNS1 = 130;
export const IPCP_NBNS2 = 132;

/** The server side's two NBNS handlers from the configured list (≤ 2 IPv4). */
export function serverWinsOptions(wins: readonly string[]): ServerDnsOption[] {
  return [new ServerDnsOption(IPCP_NBNS1, wins[0]), new ServerDnsOption(IPCP_NBNS2, wins[1])];
}
