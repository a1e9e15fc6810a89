/**
 * One memory budget for the outbound queues (FQ-CoDel, fq-codel.ts) of every session of a process:
 * Linux fq_codel's `memory_limit`, across sessions. Each session may hold up to its own byte limit
 * (4 MiB); thousands of backlogged sessions would make that GBs, which a client can cause by
 * downloading faster than its TCP stream takes. With the budget the process holds at most `limit`
 * bytes of queue memory together (the buffers queued packets live in: a TUN batch's copy counts
 * until its last packet leaves); a session whose enqueue would go over it drops from its own
 * fattest flow (never another session's packets), as it does at its own limit.
 *
 * Sans-I/O and single-threaded: a plain counter, charged on enqueue and credited on every way out
 * (dequeue, CoDel or limit drop, clear when a session goes).
 */
import { envBytes } from '../common/env.js';

export class QueueBudget {
  /** Bytes of queue memory held now, all sessions together. */
  used = 0;

  constructor(readonly limit: number) {}

  charge(bytes: number): void {
    this.used += bytes;
  }

  credit(bytes: number): void {
    this.used -= bytes;
  }

  /** Queues hold more than the budget: the session enqueuing now must drop. */
  get over(): boolean {
    return this.used > this.limit;
  }
}

/** A process's budget unless SSTPD_QUEUE_BUDGET says otherwise: 64 sessions' worth of full queues. */
export const QUEUE_BUDGET_DEFAULT = 256 * 1024 * 1024;

let processBudget: QueueBudget | undefined;

/**
 * The budget of this process (each worker has its own): SSTPD_QUEUE_BUDGET bytes (0: nothing may
 * wait, every packet the stream cannot take at once is dropped), else QUEUE_BUDGET_DEFAULT.
 */
export function processQueueBudget(): QueueBudget {
  return (processBudget ??= new QueueBudget(envBytes('SSTPD_QUEUE_BUDGET', QUEUE_BUDGET_DEFAULT, Number.MAX_SAFE_INTEGER)));
}
