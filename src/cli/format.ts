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
  /** Our address the client connected to. */
  readonly calledSid: string;
  readonly state: string;
  readonly uptimeS: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly generation: number;
  /** The worker process holding the session (sstpd --workers); empty in a single process. */
  readonly worker: string;
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
    calledSid: s.calledSid ?? '',
    state: s.state === 'starting' ? 'start' : s.state === 'active' ? 'active' : 'finish',
    uptimeS: Math.round((nowMs - (s.upAt ?? s.startedAt)) / 1000),
    rxBytes: s.rxBytes,
    txBytes: s.txBytes,
    rxPackets: s.rxPackets,
    txPackets: s.txPackets,
    generation: s.generation,
    worker: s.worker !== undefined ? String(s.worker) : '',
    rateLimit: s.rateLimit ? `${s.rateLimit.downloadKbit}/${s.rateLimit.uploadKbit}` : '',
    drops: s.drops ?? {},
    ...(s.dataPath ? { dataPath: { ...s.dataPath } } : {}),
  };
}

interface Column {
  readonly text: (r: SessionRow) => string;
  /** What `order` sorts by when it is not the text (accel-ppp compares the raw values). */
  readonly key?: (r: SessionRow) => number;
}

/**
 * accel-cmd's `show sessions` columns (accel-ppp cli/show_sessions.c, plus the shaper's
 * `rate-limit`). Columns that mean nothing here (netns, vrf, inbound-if, service-name, comp) are
 * kept so scripts that ask for them still work; they are empty.
 */
const COLUMNS: Readonly<Record<string, Column>> = {
  ifname: { text: (r) => r.ifname },
  username: { text: (r) => r.username },
  ip: { text: (r) => r.ip || r.ip6.split('/')[0] || '' },
  ip6: { text: (r) => r.ip6 },
  'ip6-dp': { text: (r) => r.ip6Dp },
  type: { text: () => 'sstp' },
  state: { text: (r) => r.state },
  uptime: { text: (r) => formatUptime(r.uptimeS), key: (r) => r.uptimeS },
  'uptime-raw': { text: (r) => String(r.uptimeS), key: (r) => r.uptimeS },
  'calling-sid': { text: (r) => r.callingSid },
  'called-sid': { text: (r) => r.calledSid },
  sid: { text: (r) => r.sid },
  comp: { text: () => '' },
  'rx-bytes': { text: (r) => formatBytes(r.rxBytes), key: (r) => r.rxBytes },
  'tx-bytes': { text: (r) => formatBytes(r.txBytes), key: (r) => r.txBytes },
  'rx-bytes-raw': { text: (r) => String(r.rxBytes), key: (r) => r.rxBytes },
  'tx-bytes-raw': { text: (r) => String(r.txBytes), key: (r) => r.txBytes },
  'rx-pkts': { text: (r) => String(r.rxPackets), key: (r) => r.rxPackets },
  'tx-pkts': { text: (r) => String(r.txPackets), key: (r) => r.txPackets },
  'rate-limit': { text: (r) => r.rateLimit },
  netns: { text: () => '' },
  vrf: { text: () => '' },
  'inbound-if': { text: () => '' },
  'service-name': { text: () => '' },
  /** Not accel-cmd's: which worker process holds the session (`sstpd --workers`). */
  worker: { text: (r) => r.worker, key: (r) => Number(r.worker) },
  /**
   * Not accel-cmd's: packets the data path dropped (the TUN refusing one, FQ-CoDel, the queue
   * limit); the data gate's policy drops are apart, in `--json`'s `drops`.
   */
  drops: { text: (r) => String(dataPathDrops(r)), key: dataPathDrops },
};

/** The data path's drop counters of a session, summed (0 without an interface); the bench reads them too. */
export function dataPathDrops(r: Pick<SessionRow, 'dataPath'>): number {
  const d = r.dataPath ?? {};
  let n = 0;
  for (const k of ['tunWriteDropped', 'tunReadDropped', 'aqmDropped', 'queueDropped']) {
    const v = d[k];
    if (typeof v === 'number') n += v;
  }
  return n;
}

export const SESSION_COLUMNS: readonly string[] = Object.keys(COLUMNS);
/** What VyOS's `show sstp-server sessions` asks accel-cmd for. */
export const VYOS_COLUMNS: readonly string[] = ['ifname', 'username', 'ip', 'ip6', 'ip6-dp', 'calling-sid', 'rate-limit', 'state', 'uptime', 'rx-bytes', 'tx-bytes'];

export interface TableOptions {
  readonly columns?: readonly string[];
  /** accel-cmd `order <column>`: ascending by that column. */
  readonly order?: string;
  /** accel-cmd `match <column> <regexp>`: only rows whose column text matches. */
  readonly match?: { readonly column: string; readonly regex: RegExp };
}

/** An unknown column name, or undefined when every name is known. */
export function unknownColumn(names: readonly string[]): string | undefined {
  return names.find((n) => !Object.hasOwn(COLUMNS, n));
}

/** `show sessions` as accel-cmd prints it; VyOS's columns unless others are asked for. */
export function sessionsTable(rows: readonly SessionRow[], opts: TableOptions = {}): string {
  const names = opts.columns ?? VYOS_COLUMNS;
  const cols = names.map((n) => COLUMNS[n]!);
  let selected = [...rows];
  const m = opts.match;
  if (m) selected = selected.filter((r) => m.regex.test(COLUMNS[m.column]!.text(r)));
  if (opts.order !== undefined) {
    const c = COLUMNS[opts.order]!;
    const key = c.key;
    selected.sort(key ? (a, b) => key(a) - key(b) : (a, b) => c.text(a).localeCompare(c.text(b)));
  }
  return table(names, selected.map((r) => cols.map((c) => c.text(r))));
}
