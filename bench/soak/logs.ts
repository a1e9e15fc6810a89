/**
 * What the soak reads from its children: JSON lines, the daemon's log as counters (nothing kept per
 * line, so a long run does not grow the soak process), the agent's long-lived and hostile sessions.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Json = Record<string, unknown>;

/** Calls `fn` for each JSON line of a child's stdout (other lines are ignored). */
export function jsonLines(child: ChildProcess, fn: (j: Json) => void): void {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let j: unknown;
    try {
      j = JSON.parse(line);
    } catch {
      return;
    }
    if (j !== null && typeof j === 'object' && !Array.isArray(j)) fn(j as Json);
  });
}

/** The last `max` characters a stream wrote (for failure reports). */
export function tail(child: ChildProcess, max = 4000): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => void (text = (text + s).slice(-max)));
  return () => text;
}

/** Counters from the daemon's JSON log; nothing is kept per line. */
export class DaemonLog {
  listening = false;
  started = 0;
  up = 0;
  ended = 0;
  authFailed = 0;
  readonly downCauses: Record<string, number> = {};
  /** warn and error lines by event name. */
  readonly warnings: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly lastErrors: string[] = [];

  onLine(j: Json): void {
    const msg = String(j['msg'] ?? '');
    if (msg === 'listening') this.listening = true;
    else if (msg === 'session-start') this.started++;
    else if (msg === 'session-up') this.up++;
    else if (msg === 'session-down') {
      this.ended++;
      const cause = String(j['cause'] ?? '?');
      this.downCauses[cause] = (this.downCauses[cause] ?? 0) + 1;
    } else if (msg === 'auth-failed') this.authFailed++;
    const level = String(j['level'] ?? '');
    if (level === 'warn') this.warnings[msg] = (this.warnings[msg] ?? 0) + 1;
    if (level === 'error' || level === 'fatal') {
      this.errors[msg] = (this.errors[msg] ?? 0) + 1;
      this.lastErrors.push(JSON.stringify(j));
      if (this.lastErrors.length > 20) this.lastErrors.shift();
    }
  }
}

/** What the agent reports: the long-lived session and the hostile sessions. */
export class AgentLog {
  longUp: Json | undefined;
  longDown: Json | undefined;
  longClosedClean: boolean | undefined;
  done = false;
  /** RTTs since the last sample, and all of them. */
  window: number[] = [];
  readonly allRtt: number[] = [];
  rttLost = 0;
  readonly hostile = { total: 0, endedByServer: 0, notEnded: 0, setupFailed: 0, garbageBursts: 0, garbageSurvived: 0, garbageEnded: 0 };
  readonly hostileKinds: Record<string, number> = {};
  readonly hostileEndMs: number[] = [];
  readonly problems: string[] = [];

  onLine(j: Json): void {
    switch (j['event']) {
      case 'long-up':
        this.longUp = j;
        break;
      case 'long-down':
        this.longDown = j;
        break;
      case 'long-closed':
        this.longClosedClean = j['clean'] === true;
        break;
      case 'rtt':
        this.window.push(Number(j['ms']));
        this.allRtt.push(Number(j['ms']));
        break;
      case 'rtt-lost':
        this.rttLost++;
        break;
      case 'hostile':
        this.onHostile(j);
        break;
      case 'done':
        this.done = true;
        break;
    }
  }

  private onHostile(j: Json): void {
    const h = this.hostile;
    h.total++;
    const outcome = String(j['outcome']);
    const kind = String(j['kind'] ?? 'ppp-garbage');
    if (outcome === 'setup-failed') {
      h.setupFailed++;
      this.problems.push(`hostile session setup failed: ${String(j['reason'])}`);
      return;
    }
    if (j['garbageSurvived'] !== undefined) {
      h.garbageBursts++;
      if (j['garbageSurvived'] === true) h.garbageSurvived++;
    }
    // Garbage may end its own session (README: a hostile packet ends only its own session); a
    // session that stays but no longer answers an echo is hung.
    if (outcome === 'ended-by-garbage') {
      h.garbageEnded++;
      return;
    }
    if (j['garbageSurvived'] === false) this.problems.push(`a session stayed up but did not answer an LCP echo after PPP garbage`);
    this.hostileKinds[kind] = (this.hostileKinds[kind] ?? 0) + 1;
    if (outcome === 'ended-by-server') {
      h.endedByServer++;
      this.hostileEndMs.push(Number(j['endMs']));
    } else {
      h.notEnded++;
      this.problems.push(`hostile session (${kind}) not ended by the server within 15 s`);
    }
  }
}
