/**
 * A fuzz worker thread: runs jobs (one target for a slice of time or inputs) and reports counts
 * and failures. Before every step it bumps a heartbeat in shared memory and notes which episode
 * and step it is in, so the parent can catch an input that never returns, terminate the thread and
 * regenerate that input from its seed.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { Rng, minimize, runEpisode, signature, toReproducer, type Failure, type Step } from './engine.js';
import { HB, episodeSeed, type Job, type WorkerMessage } from './jobs.js';
import { TARGETS } from './targets/index.js';

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('fuzz worker: no parent port');
  const hb = new Int32Array(workerData as SharedArrayBuffer);
  const reported = new Set<string>();
  const send = (m: WorkerMessage): void => port.postMessage(m);
  const beat = (i: number): void => {
    Atomics.store(hb, HB.STEP, i);
    Atomics.add(hb, HB.BEAT, 1);
  };

  port.on('message', (job: Job) => {
    const t = TARGETS[job.target]!;
    const t0 = performance.now();
    const until = t0 + job.maxMs;
    let inputs = 0;
    let episodes = 0;
    Atomics.store(hb, HB.TARGET, job.target);
    Atomics.store(hb, HB.EPISODES, 0);
    Atomics.store(hb, HB.INPUTS, 0);
    while (inputs < job.maxInputs && performance.now() < until) {
      const es = episodeSeed(job.seed, t.name, job.job, episodes);
      Atomics.store(hb, HB.EPISODE_SEED, es);
      beat(-1);
      let steps: readonly Step[] = [];
      let f: Failure | undefined;
      try {
        const g = t.generate(new Rng(es));
        steps = g.steps;
        inputs += g.inputs;
        f = runEpisode(t, steps, job.hangMs, beat);
      } catch (e) {
        // The generator itself failed (it replays recordings through the code under test).
        const err = e instanceof Error ? e : new Error(String(e));
        f = { kind: 'exception', message: `generator: ${err.name}: ${err.message}`, stack: err.stack ?? '', step: 0 };
      }
      episodes++;
      Atomics.store(hb, HB.EPISODES, episodes);
      Atomics.store(hb, HB.INPUTS, inputs);
      if (f && f.kind === 'hang' && runEpisode(t, steps, job.hangMs) === undefined) f = undefined; // a stall of the machine, not of the input
      if (!f) continue;
      const sig = signature(t.name, f);
      if (reported.has(sig)) {
        send({ type: 'repeat', target: job.target, signature: sig });
        continue;
      }
      reported.add(sig);
      const small = minimize(t, steps, f, job.hangMs);
      send({ type: 'failure', target: job.target, reproducer: { ...toReproducer(t.name, job.seed, es, small.steps, small.failure), signature: sig } });
    }
    send({ type: 'done', target: job.target, inputs, episodes, ms: performance.now() - t0 });
  });
}

main();
