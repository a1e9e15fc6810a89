/**
 * The sans-I/O rule, checked: protocol cores import no sockets, files, processes, timers or native
 * code, and read no clock. I/O lives in src/session/driver.ts, src/radius/udp.ts, src/dataplane,
 * src/server, src/cli, src/client/io, src/common/io and the file reads of src/config/{load,certs}.ts.
 * And the layering: imports between folders of src/ form no cycle, and src/common stands alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

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

const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');

/** The project files a source file imports (static, `export … from`, dynamic; `import type` too), relative to ROOT. */
function projectImports(file: string): string[] {
  const text = withoutComments(readFileSync(join(ROOT, file), 'utf8'));
  const specs = [...text.matchAll(/\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] ?? m[2]!);
  return specs.map((spec) => relative(ROOT, resolve(ROOT, dirname(file), spec)).split(sep).join('/'));
}

/**
 * A file's folder is its own directory under src/ (src/ppp/auth/pap.ts → ppp/auth; src/ppp/fsm.ts →
 * ppp): the finer grain, so a folder and its subfolders are layers too and may not import each
 * other both ways.
 */
const folderOf = (file: string): string => dirname(file).slice('src/'.length);

/** Strongly connected sets of more than one folder in the import graph, each with the imports that tie it. */
function folderCycles(files: readonly string[]): string[][] {
  const edges = new Map<string, Map<string, string>>();
  for (const file of files) {
    for (const target of projectImports(file)) {
      if (!target.startsWith('src/')) continue;
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      const out = edges.get(from) ?? new Map<string, string>();
      if (!out.has(to)) out.set(to, `${file} → ${target}`);
      edges.set(from, out);
    }
  }
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      scc.push(w);
      if (w === v) break;
    }
    if (scc.length > 1) {
      found.push(scc.flatMap((a) => [...(edges.get(a) ?? [])].filter(([b]) => scc.includes(b)).map(([b, why]) => `${a} → ${b} (${why})`)));
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

const srcFiles = (): string[] => tsFiles(join(ROOT, 'src')).map((p) => relative(ROOT, p).split(sep).join('/'));

test('folder-level imports under src/ form no cycle', () => {
  const files = srcFiles();
  assert.ok(files.some((f) => projectImports(f).length > 0), 'the import scan finds imports');
  assert.deepEqual(folderCycles(files), []);
});

test('src/common imports nothing of the project outside src/common', () => {
  const offenders = srcFiles()
    .filter((f) => f.startsWith('src/common/'))
    .flatMap((f) => projectImports(f).filter((t) => !t.startsWith('src/common/')).map((t) => `${f} → ${t}`));
  assert.deepEqual(offenders, []);
});
