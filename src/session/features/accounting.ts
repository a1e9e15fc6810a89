/**
 * RADIUS accounting for sessions a RADIUS server authorized (src/radius/accounting.ts): Start when
 * IPv4 is up, Interim-Updates, new Class values and interval from CoA, Stop when the session ends.
 * `ended` comes at an operator's terminate, not after the goodbye, so a shutdown waits for the Stop.
 */
import type { AccountingFactory, SessionAccounting } from '../../radius/accounting.js';
import type { SessionChange, SessionContext, SessionEnd, SessionSubscriber, SubscriberFactory } from '../lifecycle.js';

export function accountingFeature(accounting: AccountingFactory): SubscriberFactory {
  return () => new AccountingSubscriber(accounting);
}

class AccountingSubscriber implements SessionSubscriber {
  private acct: SessionAccounting | undefined;

  constructor(private readonly accounting: AccountingFactory) {}

  /** Once per session: an LCP renegotiation brings the link up again but the session goes on. */
  up(ctx: SessionContext): void {
    const f = ctx.facts;
    const a = f.authorization;
    if (!a?.accounting || this.acct || f.ifname === undefined || f.ipv4 === undefined) return;
    this.acct = this.accounting({
      counters: f.counters,
      // Accounting cannot be kept (Start or Interim unanswered): the session ends, NAS-Error.
      onFailure: (reason) => ctx.terminate('nas-error', reason),
      log: (level, event, fields) => ctx.log[level](fields, event),
    });
    this.acct.start(
      {
        sid: f.sid,
        username: a.username,
        nasPort: f.nasPort,
        ifname: f.ifname,
        framedIp: f.ipv4,
        callingStationId: f.callingSid,
        calledStationId: f.calledSid,
        ...(a.classes ? { classes: a.classes } : {}),
      },
      a.interimIntervalS,
    );
  }

  changed(_ctx: SessionContext, c: SessionChange): void {
    if (c.interimIntervalS !== undefined) this.acct?.setInterim(c.interimIntervalS);
    if (c.classes !== undefined) this.acct?.setClasses(c.classes);
  }

  ended(_ctx: SessionContext, end: SessionEnd): void {
    void this.acct?.stop(end.cause);
  }
}
