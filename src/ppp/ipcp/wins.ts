/**
 * IPCP Primary/Secondary-NBNS-Address (130/132, RFC 1877). The seed configuration has no WINS
 * servers, so both are rejected (Windows asks for them; accel-ppp rejects those it has no value for).
 */
import { rejectOption, type OptionHandler } from '../negotiate.js';

export const IPCP_NBNS1 = 130;
export const IPCP_NBNS2 = 132;

export const WINS_OPTIONS: readonly OptionHandler[] = [rejectOption(IPCP_NBNS1, 'nbns1'), rejectOption(IPCP_NBNS2, 'nbns2')];
