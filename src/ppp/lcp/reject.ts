/**
 * LCP options we always Configure-Reject, named for the logs (ppp.md §3.1). Async-HDLC options
 * mean nothing inside SSTP; we do not compress headers, run LQR, call back or do multilink.
 * Types not listed here are rejected too (classifyRequest rejects unknown types).
 */
import { rejectOption, type OptionHandler } from '../negotiate.js';

export const REJECTED_LCP_OPTIONS: readonly OptionHandler[] = [
  rejectOption(2, 'accm'),
  rejectOption(4, 'quality'),
  rejectOption(7, 'pfc'),
  rejectOption(8, 'acfc'),
  rejectOption(13, 'callback'),
  rejectOption(17, 'mrru'),
  rejectOption(18, 'ssnhf'),
  rejectOption(19, 'endpoint-discriminator'),
];
