import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Finds the shared/ folder beside the checkout (CI lays it next to the clone), or $SSTPD_SHARED. */
export function sharedDir(): string {
  const env = process.env['SSTPD_SHARED'];
  if (env) return env;
  let dir = resolve(process.cwd());
  for (;;) {
    const cand = join(dir, '..', 'shared');
    if (existsSync(join(cand, 'reference', 'vectors.json'))) return resolve(cand);
    const up = dirname(dir);
    if (up === dir) throw new Error('shared/ not found next to the checkout; set SSTPD_SHARED');
    dir = up;
  }
}

type Json = Record<string, Record<string, string | number>>;
let cache: Json | undefined;
export function vectors(): Json {
  cache ??= JSON.parse(readFileSync(join(sharedDir(), 'reference', 'vectors.json'), 'utf8')) as Json;
  return cache;
}
/** A hex field of a vector as bytes. */
export function vx(group: string, key: string): Buffer {
  const v = vectors()[group]?.[key];
  if (typeof v !== 'string') throw new Error(`vector ${group}.${key} missing`);
  return Buffer.from(v, 'hex');
}
export function vs(group: string, key: string): string {
  const v = vectors()[group]?.[key];
  if (v === undefined) throw new Error(`vector ${group}.${key} missing`);
  return String(v);
}
