/**
 * The operator's control channel: a Unix socket under the state dir speaking one JSON request
 * and one JSON reply per line. `sstpctl` is its client.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const controlSocketPath = (stateDir: string): string => join(stateDir, 'sstpd.sock');

export interface ControlRequest {
  readonly cmd: string;
  readonly args?: readonly string[];
}
export type ControlReply = { ok: true; data: unknown } | { ok: false; error: string };
export type ControlHandler = (req: ControlRequest) => Promise<ControlReply> | ControlReply;

const MAX_REQUEST = 64 * 1024;

export async function startControl(stateDir: string, handler: ControlHandler): Promise<Server> {
  await mkdir(stateDir, { recursive: true, mode: 0o750 });
  const path = controlSocketPath(stateDir);
  await rm(path, { force: true });
  const server = createServer((sock) => serve(sock, handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o660);
  return server;
}

function serve(sock: Socket, handler: ControlHandler): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST) return void sock.destroy();
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    const line = buf.slice(0, nl);
    buf = '';
    void answer(line, handler).then((reply) => sock.end(JSON.stringify(reply) + '\n'));
  });
}

async function answer(line: string, handler: ControlHandler): Promise<ControlReply> {
  let req: ControlRequest;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { cmd?: unknown }).cmd !== 'string') {
      return { ok: false, error: 'request must be {"cmd": string, "args"?: string[]}' };
    }
    req = parsed as ControlRequest;
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  try {
    return await handler(req);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
