/**
 * `set` commands (from set-command text or a flattened config.boot) → the configured trees below
 * `vpn sstp` and `pki`, checked against their schemas: unknown nodes, value types, missing values,
 * values on valueless nodes, and a single-value node given two different values (VyOS `set` would
 * silently overwrite; in a file that is an operator mistake). A command that fails leaves no trace
 * in the tree, as a rejected VyOS `set` does. Every other section of a whole VyOS configuration
 * (interfaces, system, service, firewall, other `vpn` and `pki` subtrees) is skipped.
 */
import type { ConfigIssue } from '../common/errors.js';
import { quoteWord, type Command } from './lexer.js';
import {
  childOf,
  legacyChild,
  PKI_READ,
  PKI_SCHEMA,
  SSTP_SCHEMA,
  type ContainerNode,
  type LeafNode,
  type SchemaNode,
  type TagNode,
} from './schema.js';

export interface ConfiguredValue {
  readonly value: string;
  readonly line: number;
}

/** One node of the configured tree; a tag node's children are keyed by tag value. */
export class ConfigNode {
  readonly children = new Map<string, ConfigNode>();
  /** Leaf values in first-set order (one for single nodes, none for valueless ones). */
  readonly values: ConfiguredValue[] = [];
  /** Created through a 1.3 child of a tag node (`client-ip-pool subnet`), not as a tag key. */
  legacy = false;
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

/** The path every `vpn sstp` tree path is below, as the operator writes it. */
export const SSTP_PREFIX: readonly string[] = ['vpn', 'sstp'];
export const PKI_PREFIX: readonly string[] = ['pki'];

/** Read access to one tree; paths are below `prefix` (`vpn sstp` or `pki`). */
export class ConfigTree {
  constructor(
    readonly root: ConfigNode,
    readonly prefix: readonly string[] = SSTP_PREFIX,
  ) {}

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
  /** Tag keys of a tag node that also has 1.3 children (`client-ip-pool`): those are left out. */
  tagKeys(path: readonly string[]): readonly string[] {
    return [...(this.node(path)?.children.entries() ?? [])].filter(([, n]) => !n.legacy).map(([k]) => k);
  }
  /** Whether the node exists as a 1.3 child (`client-ip-pool subnet`). */
  isLegacy(path: readonly string[]): boolean {
    return this.node(path)?.legacy === true;
  }
  /** The path as the operator writes it, with this tree's prefix. */
  pathText(path: readonly string[]): string {
    return pathText(path, this.prefix);
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
export function pathText(path: readonly string[], prefix: readonly string[] = SSTP_PREFIX): string {
  return [...prefix, ...path].map((w) => quoteWord(w)).join(' ');
}

const bracket = (words: readonly string[]): string => `Configuration path: [${words.map((w) => quoteWord(w)).join(' ')}]`;
const notValid = (words: readonly string[]): string => `${bracket(words)} is not valid`;
const needsValue = (words: readonly string[]): string => `${bracket(words)} requires a value`;

/** What a successful walk of one command yields: where it lands and the leaf value, if any. */
interface Resolved {
  readonly path: readonly string[];
  readonly leaf?: LeafNode;
  readonly value?: string;
  /** Index in `path` of a word that took its 1.3 meaning (a legacy child of a tag node). */
  readonly legacyAt?: number;
}

type WalkResult = { readonly ok: true; readonly r: Resolved } | { readonly ok: false; readonly issue: ConfigIssue };

/** One schema walk: the words before `path` (e.g. `vpn sstp`) are `prefix`. */
class Walk {
  constructor(
    private readonly prefix: readonly string[],
    private readonly line: number,
  ) {}

  fail(path: readonly string[], message: string): WalkResult {
    return { ok: false, issue: { path: pathText(path, this.prefix), message, line: this.line } };
  }
  full(path: readonly string[], rest: readonly string[] = []): string[] {
    return [...this.prefix, ...path, ...rest];
  }

  /** The words after `leaf`: a valueless leaf takes none, a value leaf exactly one of its type. */
  leaf(leaf: LeafNode, path: string[], rest: readonly string[], legacyAt: number | undefined): WalkResult {
    const at = legacyAt === undefined ? {} : { legacyAt };
    if (leaf.type === undefined) {
      if (rest.length > 0) return this.fail(path, `${bracket(this.full(path))} does not take a value (got "${rest.join(' ')}")`);
      return { ok: true, r: { path, leaf, ...at } };
    }
    if (rest.length === 0) return this.fail(path, needsValue(this.full(path)));
    if (rest.length > 1) {
      return this.fail(path, `${notValid(this.full(path, rest))}: expected one value (quote values that contain spaces)`);
    }
    const value = rest[0]!;
    const err = leaf.type.check(value);
    if (err !== undefined) return this.fail(path, err);
    return { ok: true, r: { path, leaf, value, ...at } };
  }

  /** Follows `words` (below the prefix) through `root`, validating tag keys and the value. */
  run(words: readonly string[], root: ContainerNode): WalkResult {
    const path: string[] = [];
    let cur: ContainerNode | TagNode = root;
    let legacyAt: number | undefined;
    // A 1.3 child found in a tag's key position, to be entered like a child found by name.
    let pending: SchemaNode | undefined;
    let i = 0;
    while (i < words.length || pending !== undefined) {
      let next: SchemaNode;
      if (pending !== undefined) {
        next = pending;
        pending = undefined;
      } else {
        const name = words[i]!;
        const found = childOf(cur, name);
        if (found === undefined) return this.fail([...path, name], notValid(this.full(path, [name])));
        path.push(name);
        i++;
        next = found;
      }
      if (next.kind === 'leaf') return this.leaf(next, path, words.slice(i), legacyAt);
      if (next.kind === 'tag') {
        if (i === words.length) return this.fail(path, needsValue(this.full(path)));
        const key = words[i]!;
        const legacy = legacyChild(next, key, words[i + 1]);
        if (legacy !== undefined) {
          // `client-ip-pool subnet X`: the 1.3 plain node where 1.4 has a tag.
          legacyAt = path.length;
          path.push(key);
          i++;
          pending = legacy;
          continue;
        }
        const err = next.key.check(key);
        if (err !== undefined) return this.fail(path, err);
        path.push(key);
        i++;
      }
      cur = next;
    }
    return { ok: true, r: legacyAt === undefined ? { path } : { path, legacyAt } };
  }
}

/** Records a resolved command; returns an issue when a single-value node already holds another value. */
function apply(root: ConfigNode, r: Resolved, line: number, prefix: readonly string[]): ConfigIssue | undefined {
  const parentPath = r.leaf === undefined ? r.path : r.path.slice(0, -1);
  let n = root;
  for (const [i, p] of parentPath.entries()) {
    const fresh = !n.children.has(p);
    n = n.child(p, line);
    if (fresh) n.legacy = i === r.legacyAt;
    else if (n.legacy !== (i === r.legacyAt)) return legacyClash(r.path.slice(0, i + 1), line, prefix);
  }
  if (r.leaf === undefined) return undefined;
  const leafName = r.path[r.path.length - 1]!;
  const existing = n.children.get(leafName);
  if (existing !== undefined && existing.legacy !== (r.legacyAt === r.path.length - 1)) return legacyClash(r.path, line, prefix);
  if (r.value !== undefined && existing !== undefined && existing.values.length > 0) {
    if (existing.values.some((v) => v.value === r.value)) return undefined; // same value again: harmless
    if (!r.leaf.multi) {
      const first = existing.values[0]!;
      return {
        path: pathText(r.path, prefix),
        message: `conflicting values: "${first.value}" (line ${first.line}) and "${r.value}" (line ${line})`,
        line,
      };
    }
  }
  const target = n.child(leafName, line);
  if (existing === undefined) target.legacy = r.legacyAt === r.path.length - 1;
  if (r.value !== undefined) target.values.push({ value: r.value, line });
  return undefined;
}

function legacyClash(path: readonly string[], line: number, prefix: readonly string[]): ConfigIssue {
  const word = path[path.length - 1]!;
  return {
    path: pathText(path, prefix),
    message: `"${word}" is used both as the VyOS 1.3 node and as a pool name; rename the pool`,
    line,
  };
}

export interface TreeResult {
  /** Below `vpn sstp`. */
  readonly tree: ConfigTree;
  /** Below `pki` (only `ca` and `certificate` are kept). */
  readonly pki: ConfigTree;
  readonly issues: readonly ConfigIssue[];
  /** The line of a `service sstp-server` command (VyOS 1.2 syntax), if any. */
  readonly serviceSstpServerLine?: number;
}

/** Where a command goes: the `vpn sstp` tree, the `pki` tree, or nowhere (another section). */
function route(w: readonly string[]): 'sstp' | 'pki' | 'skip' {
  if (w[0] === 'vpn' && w[1] === 'sstp') return 'sstp';
  if (w[0] === 'pki' && w[1] !== undefined && PKI_READ.has(w[1])) return 'pki';
  return 'skip';
}

export function buildTree(commands: readonly Command[], schema: ContainerNode = SSTP_SCHEMA): TreeResult {
  const sstpRoot = new ConfigNode(commands.find((c) => route(c.words) === 'sstp')?.line ?? 0);
  const pkiRoot = new ConfigNode(commands.find((c) => route(c.words) === 'pki')?.line ?? 0);
  const issues: ConfigIssue[] = [];
  let serviceSstpServerLine: number | undefined;
  for (const cmd of commands) {
    const w = cmd.words;
    if (w.length === 0) {
      issues.push({ path: '(nothing)', message: 'a "set" command needs a configuration path, e.g. "set vpn sstp port 443"', line: cmd.line });
      continue;
    }
    const where = route(w);
    if (where === 'skip') {
      if (w[0] === 'service' && w[1] === 'sstp-server') serviceSstpServerLine ??= cmd.line;
      continue;
    }
    const prefix = where === 'sstp' ? SSTP_PREFIX : PKI_PREFIX;
    const res = new Walk(prefix, cmd.line).run(w.slice(prefix.length), where === 'sstp' ? schema : PKI_SCHEMA);
    if (!res.ok) {
      issues.push(res.issue);
      continue;
    }
    const clash = apply(where === 'sstp' ? sstpRoot : pkiRoot, res.r, cmd.line, prefix);
    if (clash !== undefined) issues.push(clash);
  }
  return {
    tree: new ConfigTree(sstpRoot, SSTP_PREFIX),
    pki: new ConfigTree(pkiRoot, PKI_PREFIX),
    issues,
    ...(serviceSstpServerLine !== undefined ? { serviceSstpServerLine } : {}),
  };
}
