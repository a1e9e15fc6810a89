/**
 * Command-line values of the client tools → typed options (pure; shared by sstp-connect and sstp-load).
 */
import type { AuthProtocol } from '../config/model.js';
import { ClientError, ClientErrorCode } from './errors.js';

/** Every method, strongest first: also the default preference order. */
export const AUTH_METHODS: readonly AuthProtocol[] = ['mschap-v2', 'mschap', 'chap', 'pap'];

export class UsageError extends ClientError {
  constructor(message: string) {
    super(ClientErrorCode.USAGE, message, 'tcp');
  }
}

export function parseTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(target) ?? /^([^:]+)(?::(\d+))?$/.exec(target);
  if (!m) throw new UsageError(`bad server address ${JSON.stringify(target)}: expected HOST[:PORT]`);
  const port = m[2] === undefined ? 443 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`bad port in ${target}`);
  return { host: m[1]!, port };
}

/** --auth, --require-*, --refuse-* → the accepted list, preferred first. */
export function authList(auth: string | undefined, require: readonly AuthProtocol[], refuse: readonly AuthProtocol[]): AuthProtocol[] {
  let list: AuthProtocol[] = [...AUTH_METHODS];
  if (auth !== undefined) {
    list = auth.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
      if (!(AUTH_METHODS as readonly string[]).includes(s)) throw new UsageError(`unknown auth method ${s}: use ${AUTH_METHODS.join(', ')}`);
      return s as AuthProtocol;
    });
  }
  if (require.length > 0) list = list.filter((m) => require.includes(m));
  list = list.filter((m) => !refuse.includes(m));
  if (list.length === 0) throw new UsageError('no authentication method left to accept');
  return list;
}

