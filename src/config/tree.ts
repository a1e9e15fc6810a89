/**
 * `set` commands → the configured tree below `vpn sstp`, checked against the schema: unknown
 * nodes, value types, missing values, values on valueless nodes, and a single-value node given two
 * different values (VyOS `set` would silently overwrite; in a file that is an operator mistake).
 * A command that fails leaves no trace in the tree, as a rejected VyOS `set` does.
 */
import type { ConfigIssue } from '../common/errors.js';
import { quoteWord, type Command } from './lexer.js';
import { childOf, SSTP_SCHEMA, type ContainerNode, type LeafNode, type SchemaNode, type TagNode } from './schema.js';

export interface ConfiguredValue {
  readonly value: string;
  readonly line: number;
}

/** One node of the configured tree; a tag node's children are keyed by tag value. */
export class ConfigNode {
  readonly children = new Map<string, ConfigNode>();
  /** Leaf values in first-set order (one for single nodes, none for valueless ones). */
  readonly values: ConfiguredValue[] = [];
  constructor(readonly line: number) {}

  child(name: string, line: number): ConfigNode {
    let c = this.children.get(name);
    if (c === undefined) {
      c = new ConfigNode(line);
      this.children.set(name, c);
    }
    return c;
  }
}

/** Read access to the tree; paths are below `vpn sstp`. */
export class ConfigTree {
  constructor(readonly root: ConfigNode) {}

  node(path: readonly string[]): ConfigNode | undefined {
    let cur: ConfigNode | undefined = this.root;
    for (const p of path) {
      cur = cur.children.get(p);
      if (cur === undefined) return undefined;
    }
    return cur;
  }
  has(path: readonly string[]): boolean {
    return this.node(path) !== undefined;
  }
  value(path: readonly string[]): string | undefined {
    return this.node(path)?.values[0]?.value;
  }
  values(path: readonly string[]): readonly ConfiguredValue[] {
    return this.node(path)?.values ?? [];
  }
  /** Child names (tag keys for a tag node), in first-set order. */
  keys(path: readonly string[]): readonly string[] {
    return [...(this.node(path)?.children.keys() ?? [])];
  }
  /** The line that first created the node, if configured. */
  line(path: readonly string[]): number | undefined {
    return this.node(path)?.line;
  }
  get isEmpty(): boolean {
    return this.root.children.size === 0;
  }
}

/** `vpn sstp a b c` — the path as the operator writes it (words quoted where needed). */
export function pathText(path: readonly string[]): string {
  return ['vpn', 'sstp', ...path].map((w) => quoteWord(w)).join(' ');
}

const bracket = (words: readonly string[]): string => `Configuration path: [${words.map((w) => quoteWord(w)).join(' ')}]`;
const notValid = (words: readonly string[]): string => `${bracket(words)} is not valid`;
const needsValue = (words: readonly string[]): string => `${bracket(words)} requires a value`;

/** What a successful walk of one command yields: where it lands and the leaf value, if any. */
interface Resolved {
  readonly path: readonly string[];
  readonly leaf?: LeafNode;
  readonly value?: string;
}

type WalkResult = { readonly ok: true; readonly r: Resolved } | { readonly ok: false; readonly issue: ConfigIssue };

function fail(path: readonly string[], message: string, line: number): WalkResult {
  return { ok: false, issue: { path: pathText(path), message, line } };
}

/** The words after `leaf`: a valueless leaf takes none, a value leaf exactly one of its type. */
function walkLeaf(leaf: LeafNode, path: string[], rest: readonly string[], line: number): WalkResult {
  if (leaf.type === undefined) {
    if (rest.length > 0) return fail(path, `${bracket(['vpn', 'sstp', ...path])} does not take a value (got "${rest.join(' ')}")`, line);
    return { ok: true, r: { path, leaf } };
  }
  if (rest.length === 0) return fail(path, needsValue(['vpn', 'sstp', ...path]), line);
  if (rest.length > 1) {
    return fail(path, `${notValid(['vpn', 'sstp', ...path, ...rest])}: expected one value (quote values that contain spaces)`, line);
  }
  const value = rest[0]!;
  const err = leaf.type.check(value);
  if (err !== undefined) return fail(path, err, line);
  return { ok: true, r: { path, leaf, value } };
}

/** Follows one command's words through the schema, validating tag keys and the value. */
function walk(cmd: Command, root: ContainerNode): WalkResult {
  const w = cmd.words;
  if (w[0] !== 'vpn' || w[1] !== 'sstp') {
    const shown = w.length === 0 ? '(nothing)' : w.map((x) => quoteWord(x)).join(' ');
    return { ok: false, issue: { path: shown, message: 'only "set vpn sstp ..." commands are accepted', line: cmd.line } };
  }
  const path: string[] = [];
  let cur: ContainerNode | TagNode = root;
  let i = 2;
  while (i < w.length) {
    const name = w[i]!;
    const next: SchemaNode | undefined = childOf(cur, name);
    if (next === undefined) return fail([...path, name], notValid(w.slice(0, i + 1)), cmd.line);
    path.push(name);
    i++;
    if (next.kind === 'leaf') return walkLeaf(next, path, w.slice(i), cmd.line);
    if (next.kind === 'tag') {
      if (i === w.length) return fail(path, needsValue(w), cmd.line);
      const key = w[i]!;
      const err = next.key.check(key);
      if (err !== undefined) return fail(path, err, cmd.line);
      path.push(key);
      i++;
    }
    cur = next;
  }
  return { ok: true, r: { path } };
}

/** Records a resolved command; returns an issue when a single-value node already holds another value. */
function apply(root: ConfigNode, r: Resolved, line: number): ConfigIssue | undefined {
  const parentPath = r.leaf === undefined ? r.path : r.path.slice(0, -1);
  let n = root;
  for (const p of parentPath) n = n.child(p, line);
  if (r.leaf === undefined) return undefined;
  const leafName = r.path[r.path.length - 1]!;
  const existing = n.children.get(leafName);
  if (r.value !== undefined && existing !== undefined && existing.values.length > 0) {
    if (existing.values.some((v) => v.value === r.value)) return undefined; // same value again: harmless
    if (!r.leaf.multi) {
      const first = existing.values[0]!;
      return {
        path: pathText(r.path),
        message: `conflicting values: "${first.value}" (line ${first.line}) and "${r.value}" (line ${line})`,
        line,
      };
    }
  }
  const target = n.child(leafName, line);
  if (r.value !== undefined) target.values.push({ value: r.value, line });
  return undefined;
}

export interface TreeResult {
  readonly tree: ConfigTree;
  readonly issues: readonly ConfigIssue[];
}

export function buildTree(commands: readonly Command[], schema: ContainerNode = SSTP_SCHEMA): TreeResult {
  const root = new ConfigNode(commands[0]?.line ?? 0);
  const issues: ConfigIssue[] = [];
  for (const cmd of commands) {
    const res = walk(cmd, schema);
    if (!res.ok) {
      issues.push(res.issue);
      continue;
    }
    const clash = apply(root, res.r, cmd.line);
    if (clash !== undefined) issues.push(clash);
  }
  return { tree: new ConfigTree(root), issues };
}
