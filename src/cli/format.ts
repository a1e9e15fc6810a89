/**
 * Operator output in accel-ppp's layout, so VyOS-style scripts that split on "|" keep working:
 * centred headers, "-" rules with "+" at joins, cells left-aligned with one space of padding.
 */
import type { SessionInfo } from '../session/registry.js';

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const centre = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  const line = (cells: readonly string[], pad: (s: string, w: number) => string): string =>
    ' ' + cells.map((c, i) => ` ${pad(c, widths[i]!)} `).join('|').slice(1);
  const out = [line(headers, centre), '-' + widths.map((w) => '-'.repeat(w + 2)).join('+').slice(1)];
  for (const r of rows) out.push(line(r, (s, w) => s.padEnd(w)));
  return out.join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((x) => String(x).padStart(2, '0')).join(':');
  return d > 0 ? `${d}.${hms}` : hms;
}

export interface SessionRow {
  readonly sid: string;
  readonly ifname: string;
  readonly username: string;
  readonly ip: string;
  /** The session's IPv6 prefix (RA) and the DHCPv6-delegated prefix, as accel-ppp's ip6 / ip6-dp. */
  readonly ip6: string;
  readonly ip6Dp: string;
  readonly callingSid: string;
  readonly state: string;
  readonly uptimeS: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly generation: number;
  /** `download/upload` in kbit/s, as accel-ppp prints it; empty without a limit. */
  readonly rateLimit: string;
  /** Data packets dropped by the session's data gate, by reason (JSON only). */
  readonly drops: Readonly<Record<string, number>>;
  /** TUN drops, offload and back-pressure counters (JSON only; absent without an interface). */
  readonly dataPath?: Readonly<Record<string, number | boolean>>;
}

export function sessionRow(s: SessionInfo, nowMs: number): SessionRow {
  return {
    sid: s.sid,
    ifname: s.ifname ?? '',
    username: s.username ?? '',
    ip: s.ip ?? '',
    ip6: s.ip6 ?? '',
    ip6Dp: s.ip6Dp ?? '',
    callingSid: s.callingSid,
    state: s.state === 'starting' ? 'start' : s.state === 'active' ? 'active' : 'finish',
    uptimeS: Math.round((nowMs - (s.upAt ?? s.startedAt)) / 1000),
    rxBytes: s.rxBytes,
    txBytes: s.txBytes,
    rxPackets: s.rxPackets,
    txPackets: s.txPackets,
    generation: s.generation,
    rateLimit: s.rateLimit ? `${s.rateLimit.downloadKbit}/${s.rateLimit.uploadKbit}` : '',
    drops: s.drops ?? {},
    ...(s.dataPath ? { dataPath: { ...s.dataPath } } : {}),
  };
}

export function sessionsTable(rows: readonly SessionRow[]): string {
  const headers = ['ifname', 'username', 'ip', 'ip6', 'ip6-dp', 'calling-sid', 'sid', 'rate-limit', 'state', 'uptime', 'rx-bytes', 'tx-bytes', 'rx-pkts', 'tx-pkts'];
  return table(
    headers,
    rows.map((r) => [
      r.ifname,
      r.username,
      r.ip,
      r.ip6,
      r.ip6Dp,
      r.callingSid,
      r.sid,
      r.rateLimit,
      r.state,
      formatUptime(r.uptimeS),
      formatBytes(r.rxBytes),
      formatBytes(r.txBytes),
      String(r.rxPackets),
      String(r.txPackets),
    ]),
  );
}
