/**
 * What the parent and the worker threads say to each other, and the shared heartbeat layout.
 */
import { mix, type Reproducer } from './engine.js';

export interface Job {
  readonly target: number;
  readonly seed: number;
  /** The target's n-th job: its episodes are (job, 0), (job, 1), … */
  readonly job: number;
  readonly maxMs: number;
  readonly maxInputs: number;
  readonly hangMs: number;
}

export type WorkerMessage =
  | { readonly type: 'done'; readonly target: number; readonly inputs: number; readonly episodes: number; readonly ms: number }
  | { readonly type: 'failure'; readonly target: number; readonly reproducer: Reproducer }
  | { readonly type: 'repeat'; readonly target: number; readonly signature: string };

/** Heartbeat slots (Int32Array over the shared buffer). */
export const HB = { BEAT: 0, TARGET: 1, EPISODE_SEED: 2, STEP: 3, EPISODES: 4, INPUTS: 5, SIZE: 6 } as const;

/** The seed of episode `k` of a target's job `job`: the same for a given --seed whichever worker runs it. */
export const episodeSeed = (seed: number, targetName: string, job: number, k: number): number => {
  let h = 0;
  for (let i = 0; i < targetName.length; i++) h = (Math.imul(h, 31) + targetName.charCodeAt(i)) | 0;
  return mix(seed, h, job, k);
};
