/**
 * Routes a backend asks for through a session (RADIUS Framed-Route): `ip route add PREFIX dev IF`.
 * They go away with the interface, so nothing removes them explicitly.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { FramedRoute } from '../auth/backend.js';

const execFileAsync = promisify(execFile);
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const PREFIX = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

export async function addRoute(ifname: string, r: FramedRoute): Promise<void> {
  if (!IFNAME.test(ifname) || !PREFIX.test(r.prefix)) throw new Error(`bad route ${r.prefix} dev ${ifname}`);
  const args = ['route', 'add', r.prefix, 'dev', ifname, ...(r.metric !== undefined ? ['metric', String(r.metric)] : [])];
  await execFileAsync('ip', args, { timeout: 10_000 });
}
