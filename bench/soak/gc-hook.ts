/**
 * Preloaded into the daemon by the soak run (`node --expose-gc --import …/gc-hook.js sstpd.js`):
 * SIGUSR2 runs a full garbage collection, so the heap figure read next (`sstpctl show statistics`)
 * counts only what is still referenced: retained memory, told apart from garbage V8 has not
 * collected yet, which RSS and heapUsed alone cannot. With SSTPD_SOAK_SNAPSHOT=PATH, a heap snapshot
 * is written to PATH after the GC whenever PATH.request exists (the soak asks for one at the end).
 * Bench instrumentation only; the daemon itself has no SIGUSR2 handler.
 */
import { existsSync, rmSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const to = process.env['SSTPD_SOAK_SNAPSHOT'];
  if (to !== undefined && existsSync(`${to}.request`)) {
    rmSync(`${to}.request`);
    writeHeapSnapshot(to);
  }
});
