/**
 * One error hierarchy for the whole daemon. Every error has a stable `code` (used in logs and in
 * `sstpctl --json`); protocol errors also carry the reaction the wire expects, so the layer that
 * catches them does not have to guess.
 */
export class SstpdError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Malformed bytes from the peer: a length that does not fit, a truncated field, trailing garbage. */
export class DecodeError extends SstpdError {
  constructor(message: string, code = 'E_DECODE') {
    super(code, message);
  }
}

/** The peer sent something well-formed that the protocol forbids in the current state. */
export class ProtocolError extends SstpdError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** One problem in a configuration: the `set` path it concerns and why it is wrong. */
export interface ConfigIssue {
  /** The config path, e.g. `vpn sstp authentication local-users username foo password`. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the config file, when the issue comes from one line. */
  readonly line?: number;
}

export class ConfigError extends SstpdError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super('E_CONFIG', issues.map(formatConfigIssue).join('\n'));
    this.issues = issues;
  }
}

export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line !== undefined ? `line ${i.line}: ` : '';
  if (i.path === '') return `${where}${i.message}`;
  return `${where}${i.path}: ${i.message}`;
}
