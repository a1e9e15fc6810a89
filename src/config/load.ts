/**
 * The config pipeline end to end: text (set-commands or config.boot, told apart by source.ts) →
 * commands → trees (`vpn sstp` and `pki`, schema) → model → verify. Used by `sstpd --check`,
 * start-up and reload. This file and certs.ts are the only ones in src/config that touch the file
 * system; everything they call is pure.
 */
import { constants, accessSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatConfigIssue, type ConfigIssue } from '../common/errors.js';
import { buildConfig } from './build.js';
import type { SstpConfig } from './model.js';
import { readConfigSource } from './source.js';
import { buildTree } from './tree.js';
import { verifyConfig, type ConfigNote, type FileChecker, type FileRead } from './verify.js';

export type { ConfigNote, FileChecker, FileRead } from './verify.js';

/** `notes`: accepted as is but worth saying (sstpd --check prints them); none after syntax errors. */
export type LoadResult =
  | { readonly ok: true; readonly config: SstpConfig; readonly notes: readonly ConfigNote[] }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[]; readonly notes: readonly ConfigNote[] };

export interface LoadOptions {
  /** Checks the files the config names (ssl, extended-scripts); without it only their presence in the config is checked. */
  readonly files?: FileChecker;
  /** Directory that relative ssl paths resolve against; the config file's directory for files. */
  readonly baseDir?: string;
  /** Wall-clock time for certificate validity (tests); defaults to now. */
  readonly now?: Date;
}

function errnoCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function describeFsError(e: unknown): string {
  const code = errnoCode(e);
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return `is not readable (${code})`;
  if (code === 'EISDIR') return 'is a directory';
  return `cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})`;
}

/** Reads files synchronously from disk (config loading happens before anything is served). */
export const nodeFileChecker: FileChecker = {
  read(path: string): FileRead {
    try {
      if (statSync(path).isDirectory()) return { ok: false, reason: 'is a directory' };
      accessSync(path, constants.R_OK);
      return { ok: true, data: readFileSync(path) };
    } catch (e) {
      return { ok: false, reason: describeFsError(e) };
    }
  },
  // VyOS's `script` validator: "File X does not exist" / "File X is not an executable file".
  executable(path: string) {
    try {
      if (!statSync(path).isFile()) return { ok: false, reason: 'is not an executable file' };
      accessSync(path, constants.X_OK);
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: errnoCode(e) === 'ENOENT' ? 'does not exist' : 'is not an executable file' };
    }
  },
};

/** Lines first, then the commit checks; syntax/type issues stop before verify, whose findings
 *  about a half-understood tree would only mislead. */
export function loadConfigText(text: string, opts: LoadOptions = {}): LoadResult {
  const source = readConfigSource(text);
  const { tree, pki, issues: treeIssues, serviceSstpServerLine } = buildTree(source.commands);
  const syntax = [...source.issues, ...treeIssues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (syntax.length > 0) return { ok: false, issues: syntax, notes: [] };
  const baseDir = opts.baseDir;
  const config = buildConfig(tree, baseDir === undefined ? { pki } : { pki, resolvePath: (p) => resolve(baseDir, p) });
  const { issues, notes } = verifyConfig(tree, config, {
    pki,
    format: source.format,
    now: opts.now ?? new Date(),
    ...(opts.files ? { files: opts.files } : {}),
    ...(source.versions ? { versions: source.versions } : {}),
    ...(serviceSstpServerLine !== undefined ? { serviceSstpServerLine } : {}),
  });
  return issues.length > 0 ? { ok: false, issues, notes } : { ok: true, config, notes };
}

/** Loads a config file; ssl files are checked on disk unless `opts.files` says otherwise. */
export async function loadConfigFile(path: string, opts: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return { ok: false, issues: [{ path, message: `configuration file ${describeFsError(e)}` }], notes: [] };
  }
  return loadConfigText(text, { files: nodeFileChecker, baseDir: dirname(resolve(path)), ...opts });
}

/** One line per issue: `line 3: vpn sstp port: Port number must be in range 1 to 65535`. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((i) => (i.path === '' ? `${i.line !== undefined ? `line ${i.line}: ` : ''}${i.message}` : formatConfigIssue(i)))
    .join('\n');
}

/** One line per note: `line 3: vpn sstp gateway-address: note: …`. */
export function formatNotes(notes: readonly ConfigNote[]): string {
  return formatIssues(notes.map((n) => ({ ...n, message: `note: ${n.message}` })));
}
