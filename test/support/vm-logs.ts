/**
 * Reading what a `shared/sstpc-vm/run` guest printed: its pppd log (pppd runs with `debug`, so
 * every LCP/IPCP/IPV6CP packet it sent or received is one `sent [...]` / `rcvd [...]` line).
 *
 *   const log = pppdLog(r);
 *   assert.ok(log.some((l) => l.startsWith('rcvd [LCP ConfNak') && l.includes('<mru 1400>')));
 */
import type { SstpcResult } from './vm.js';

const PPPD_LOG = '=============== pppd log ===============';
const SECTION = '=============== ';

/** The lines of the guest's pppd log section (empty when the run printed none). */
export function pppdLog(r: SstpcResult): string[] {
  const lines = r.output.split('\n');
  const start = lines.indexOf(PPPD_LOG);
  if (start < 0) return [];
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith(SECTION));
  return end < 0 ? rest : rest.slice(0, end);
}

/** The pppd packet lines (`sent [IPCP ...]`, `rcvd [LCP ...]`) of one protocol, in order. */
export function pppdPackets(r: SstpcResult, dir: 'sent' | 'rcvd', protocol: 'LCP' | 'IPCP' | 'IPV6CP' | 'CCP'): string[] {
  const prefix = `${dir} [${protocol} `;
  return pppdLog(r).filter((l) => l.startsWith(prefix));
}
