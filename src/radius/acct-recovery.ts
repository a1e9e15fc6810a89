/**
 * The Accounting-Stop for a session whose process died before it could send one (worker
 * processes): rebuilt from the Accounting-Start that process sent (same user, NAS, NAS-Port,
 * interface, address, Class) with the last counters it reported, so the back end closes the
 * session with the right identity. Sans-I/O: attributes in, attributes out.
 */
import { ACCT_STATUS, ATTR } from './attributes.js';
import { accountingAttributes, type AcctCounters, type AcctSession, type NasIdentity } from './accounting.js';
import type { RequestAttribute } from './client.js';
import { intValue, ipValue, textValue, type RadiusAttribute } from './packet.js';

const value = (attrs: readonly RadiusAttribute[], type: number): Buffer | undefined => attrs.find((a) => a.type === type)?.value;

/** Acct-Status-Type and Acct-Session-Id of an Accounting-Request. */
export function acctRequestKind(attrs: readonly RadiusAttribute[]): { readonly status?: number; readonly sid?: string } {
  const status = intValue(value(attrs, ATTR.ACCT_STATUS_TYPE));
  const sid = textValue(value(attrs, ATTR.ACCT_SESSION_ID));
  return { ...(status !== undefined ? { status } : {}), ...(sid !== undefined ? { sid } : {}) };
}

/** The Stop that follows `start`; undefined when `start` is not a session's Accounting-Start. */
export function stopFromStart(
  start: readonly RadiusAttribute[],
  counters: AcctCounters,
  sessionTimeS: number,
  eventTimestamp: number,
  cause: string,
): RequestAttribute[] | undefined {
  const v = (t: number): Buffer | undefined => value(start, t);
  const username = textValue(v(ATTR.USER_NAME));
  const sid = textValue(v(ATTR.ACCT_SESSION_ID));
  const ifname = textValue(v(ATTR.NAS_PORT_ID));
  const framedIp = ipValue(v(ATTR.FRAMED_IP_ADDRESS));
  if (intValue(v(ATTR.ACCT_STATUS_TYPE)) !== ACCT_STATUS.START || !username || !sid || !ifname || !framedIp) return undefined;
  const nasPort = intValue(v(ATTR.NAS_PORT));
  const called = textValue(v(ATTR.CALLED_STATION_ID));
  const classes = start.filter((a) => a.type === ATTR.CLASS).map((a) => a.value);
  const session: AcctSession = {
    sid,
    username,
    ifname,
    framedIp,
    callingStationId: textValue(v(ATTR.CALLING_STATION_ID)) ?? '',
    ...(nasPort !== undefined ? { nasPort } : {}),
    ...(called !== undefined ? { calledStationId: called } : {}),
    ...(classes.length > 0 ? { classes } : {}),
  };
  const identifier = textValue(v(ATTR.NAS_IDENTIFIER));
  const ipAddress = ipValue(v(ATTR.NAS_IP_ADDRESS));
  const nas: NasIdentity = { ...(identifier !== undefined ? { identifier } : {}), ...(ipAddress !== undefined ? { ipAddress } : {}) };
  return accountingAttributes(ACCT_STATUS.STOP, session, nas, counters, sessionTimeS, eventTimestamp, cause);
}
