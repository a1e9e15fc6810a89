/**
 * Every fuzz target, in a fixed order (workers and the parent refer to targets by index).
 */
import type { Target } from '../engine.js';
import { configLexerTarget, configLoadTarget } from './config.js';
import { ipv6CodecTarget, ipv6ServicesTarget } from './ipv6.js';
import { pppAuthTarget, pppClientTarget, pppCodecTarget, pppLinkTargets } from './ppp.js';
import { radiusAcceptTarget, radiusClientTarget, radiusDaeTarget, radiusDecodeTarget } from './radius.js';
import { clientConnectionTarget, sessionTargets } from './session.js';
import { framerTarget, httpTarget, sstpClientTarget, sstpServerTarget } from './sstp.js';

export const TARGETS: readonly Target[] = [
  httpTarget,
  framerTarget,
  sstpServerTarget,
  sstpClientTarget,
  pppCodecTarget,
  pppAuthTarget,
  ...pppLinkTargets,
  pppClientTarget,
  ...sessionTargets,
  clientConnectionTarget,
  radiusDecodeTarget,
  radiusClientTarget,
  radiusDaeTarget,
  radiusAcceptTarget,
  ipv6ServicesTarget,
  ipv6CodecTarget,
  configLexerTarget,
  configLoadTarget,
];

/** Targets named by a comma list of names, groups or `prefix*` patterns; all when empty. */
export function selectTargets(spec: string | undefined): Target[] {
  if (!spec) return [...TARGETS];
  const words = spec.split(',').map((w) => w.trim()).filter((w) => w.length > 0);
  const out = TARGETS.filter((t) => words.some((w) => t.name === w || t.group === w || (w.endsWith('*') && t.name.startsWith(w.slice(0, -1)))));
  const unknown = words.filter((w) => !TARGETS.some((t) => t.name === w || t.group === w || (w.endsWith('*') && t.name.startsWith(w.slice(0, -1)))));
  if (unknown.length > 0) throw new Error(`unknown target(s): ${unknown.join(', ')} (see --list)`);
  return out;
}
