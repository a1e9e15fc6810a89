/**
 * The sans-I/O rule, checked: protocol cores import no sockets, files, processes, timers or native
 * code, and read no clock. I/O lives in src/session/driver.ts, src/radius/udp.ts, src/dataplane,
 * src/server, src/cli, src/client/io, src/common/io and the file reads of src/config/{load,certs}.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = process.cwd();
const IO_ALLOWED = new Set([
  'src/session/driver.ts',
  'src/config/load.ts',
  'src/config/certs.ts',
  'src/radius/udp.ts',
]);
// src/common/io: edge helpers the I/O files share (the deadline timer), kept apart from the pure
// src/common so that the rest of common stays checked as core.
const IO_DIRS = ['src/dataplane/', 'src/server/', 'src/cli/', 'src/client/io/', 'src/common/io/'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

test('protocol cores are sans-I/O', () => {
  const core = tsFiles(join(ROOT, 'src'))
    .map((p) => relative(ROOT, p))
    .filter((p) => !IO_ALLOWED.has(p) && !IO_DIRS.some((d) => p.startsWith(d)));
  assert.ok(core.length > 30, `found ${core.length} core files`);
  const forbidden = /from ['"](node:)?(net|tls|fs|fs\/promises|child_process|dgram|timers|timers\/promises|os)['"]|native\/|\bsetTimeout\(|\bsetInterval\(|\bsetImmediate\(|\bDate\.now\(|new Date\(\)|performance\.now\(/;
  const offenders = core.filter((p) => {
    const text = readFileSync(join(ROOT, p), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    return forbidden.test(text) && !(p === 'src/common/time.ts' && /monotonicNow/.test(text));
  });
  assert.deepEqual(offenders, []);
});

test('no `any` in src', () => {
  const offenders = tsFiles(join(ROOT, 'src')).filter((p) => /:\s*any\b|as any\b|<any>/.test(readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')));
  assert.deepEqual(offenders.map((p) => relative(ROOT, p)), []);
});
