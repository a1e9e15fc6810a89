/**
 * Session ids, which are also the Acct-Session-Id: unique across every node that shares a RADIUS
 * back end, and across restarts of one node, so that SQL accounting (one `radacct` row per id
 * and NAS) and Disconnect by Acct-Session-Id never confuse two sessions.
 *
 *   [node-]BOOT-N
 *
 * - node: who we are to RADIUS — NAS-IP-Address as 8 hex digits and/or NAS-Identifier (verbatim
 *   when it is a short plain word, else a 16-hex digest of it); absent without RADIUS. Nodes that
 *   a back end tells apart (as it must, to close their sessions on Accounting-On) get distinct ids.
 * - BOOT: this process's start (8 hex digits of Unix seconds) and its pid (6 hex digits), so a
 *   restarted node never reuses an id of its earlier run, and processes of one node started in
 *   the same second (workers) never share one.
 * - N: the session's number in this process (NAS-Port), at least 6 hex digits.
 *
 * At most 64 printable ASCII characters (RADIUS allows 253; MySQL's radacct column takes 64).
 */
import { createHash } from 'node:crypto';
import type { NasIdentity } from './accounting.js';

const PLAIN_IDENTIFIER = /^[A-Za-z0-9._]{1,31}$/;

/** The node part of our session ids ('' without RADIUS). */
export function sessionIdNode(nas: NasIdentity | undefined): string {
  if (nas === undefined) return '';
  const parts: string[] = [];
  if (nas.ipAddress !== undefined) {
    parts.push(
      nas.ipAddress
        .split('.')
        .map((o) => Number(o).toString(16).padStart(2, '0'))
        .join(''),
    );
  }
  if (nas.identifier !== undefined) {
    parts.push(PLAIN_IDENTIFIER.test(nas.identifier) ? nas.identifier : createHash('sha256').update(nas.identifier).digest('hex').slice(0, 16));
  }
  return parts.join('-');
}

/** The BOOT part from the process's start time (ms) and pid (Linux pids stay below 2^22). */
export function sessionIdBoot(startedAtMs: number, pid: number): string {
  return Math.floor(startedAtMs / 1000).toString(16).padStart(8, '0') + (pid % 0x1000000).toString(16).padStart(6, '0');
}

export function formatSessionId(node: string, boot: string, n: number): string {
  const seq = n.toString(16).padStart(6, '0');
  return node === '' ? `${boot}-${seq}` : `${node}-${boot}-${seq}`;
}
