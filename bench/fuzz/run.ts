/**
 * `npm run fuzz`: fuzzing at scale for every decoder and protocol core of sstpd (not part of
 * `npm test`). Worker threads (one per core by default) run jobs of one target each; targets share
 * the time budget equally and, with an input goal, each stops at its share of it.
 *
 *   node dist/bench/fuzz/run.js [--seconds 600] [--inputs 1000000] [--target NAME,GROUP,prefix*]
 *        [--seed S] [--workers 2] [--out fuzz-out] [--hang-ms 1000]
 *   node dist/bench/fuzz/run.js --replay fuzz-out/FILE.json
 *   node dist/bench/fuzz/run.js --list
 *
 * A failure is an exception escaping a core (decoders: anything but their DecodeError), a broken
 * invariant, or a step that runs longer than --hang-ms. Each distinct one is shrunk and written to
 * --out as a reproducer (JSON: target, seeds, steps in hex); the exit code is 1 if there was any.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Rng, runEpisode, stepsOf, toReproducer, type Reproducer, type Target } from './engine.js';
import { HB, type Job, type WorkerMessage } from './jobs.js';
import { TARGETS, selectTargets } from './targets/index.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    inputs: { type: 'string', default: '1000000' },
    target: { type: 'string' },
    seed: { type: 'string' },
    workers: { type: 'string', default: '2' },
    out: { type: 'string', default: 'fuzz-out' },
    'hang-ms': { type: 'string', default: '1000' },
    replay: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

const num = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`fuzz: --${name} must be a number ≥ ${min}\n`);
    process.exit(2);
  }
  return n;
};

const HANG_MS = num('hang-ms', values['hang-ms'], 1);
/** Jobs are short so the time share stays fair and progress lines stay fresh. */
const SLICE_MS = 2000;
/** No heartbeat for this long: the worker is stuck inside one step. */
const WATCHDOG_MS = Math.max(5000, 3 * HANG_MS);
const PROGRESS_MS = 10_000;

const log = (s: string): void => void process.stdout.write(`${s}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

// ---- replay and list ----------------------------------------------------------------------------

function replay(file: string): never {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Reproducer;
  const t = TARGETS.find((x) => x.name === r.target);
  if (!t) {
    log(`fuzz: unknown target "${r.target}" in ${file}`);
    process.exit(2);
  }
  const steps = stepsOf(r);
  log(`fuzz: replaying ${file}: target ${t.name}, ${steps.length} steps (recorded: ${r.kind}: ${r.message})`);
  const f = runEpisode(t, steps, HANG_MS);
  if (!f) {
    log('fuzz: does not reproduce (fixed?)');
    process.exit(0);
  }
  log(`fuzz: reproduces at step ${f.step}: ${f.kind}: ${f.message}\n${f.stack}`);
  process.exit(1);
}

if (values.list) {
  for (const t of TARGETS) log(`${t.name.padEnd(20)} ${t.group.padEnd(8)} ${t.about}`);
  process.exit(0);
}
if (values.replay) replay(values.replay);

// ---- the run --------------------------------------------------------------------------------------

interface TargetState {
  readonly index: number;
  readonly name: string;
  inputs: number;
  episodes: number;
  ms: number;
  jobs: number;
  /** Jobs of this target running now. */
  busy: number;
  failures: number;
  readonly distinct: Set<string>;
}

interface Slot {
  worker: Worker;
  readonly hb: Int32Array;
  readonly shared: SharedArrayBuffer;
  job: Job | undefined;
  jobAt: number;
  lastBeat: number;
  lastBeatAt: number;
}

let selected: Target[];
try {
  selected = selectTargets(values.target);
} catch (e) {
  log(`fuzz: ${(e as Error).message}`);
  process.exit(2);
}
const SECONDS = num('seconds', values.seconds, 0);
const INPUTS = num('inputs', values.inputs, 0);
const WORKERS = Math.floor(num('workers', values.workers, 1));
const SEED = values.seed !== undefined ? num('seed', values.seed, 0) >>> 0 : new Rng(Date.now() ^ process.pid).u32();
const OUT = resolve(values.out ?? 'fuzz-out');
const QUOTA = INPUTS > 0 ? Math.ceil(INPUTS / selected.length) : Number.POSITIVE_INFINITY;

mkdirSync(OUT, { recursive: true });
const states: TargetState[] = selected.map((t) => ({ index: TARGETS.indexOf(t), name: t.name, inputs: 0, episodes: 0, ms: 0, jobs: 0, busy: 0, failures: 0, distinct: new Set() }));
const byIndex = new Map(states.map((s) => [s.index, s]));
const written = new Map<string, string>();
const t0 = performance.now();
const deadline = t0 + SECONDS * 1000;
const slots: Slot[] = [];
let finished = false;

log(`fuzz: ${selected.length} targets, ${WORKERS} workers, seed ${SEED}, budget ${SECONDS} s${INPUTS > 0 ? `, goal ${fmt(INPUTS)} inputs (${fmt(QUOTA)} per target)` : ''}, reproducers in ${OUT}`);

function record(target: number, r: Reproducer): void {
  const st = byIndex.get(target)!;
  st.failures++;
  st.distinct.add(r.signature);
  if (written.has(r.signature)) return;
  const file = join(OUT, `${r.target}-${r.kind}-${createHash('sha1').update(r.signature).digest('hex').slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`);
  written.set(r.signature, file);
  log(`fuzz: FAILURE ${r.target}: ${r.kind}: ${r.message.split('\n')[0]} → ${file}`);
}

function spawn(): Slot {
  const shared = new SharedArrayBuffer(HB.SIZE * 4);
  const slot: Slot = { worker: undefined as unknown as Worker, hb: new Int32Array(shared), shared, job: undefined, jobAt: 0, lastBeat: 0, lastBeatAt: performance.now() };
  start(slot);
  return slot;
}

function start(slot: Slot): void {
  const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: slot.shared });
  slot.worker = w;
  w.on('message', (m: WorkerMessage) => onMessage(slot, m));
  w.on('error', (e) => {
    log(`fuzz: worker error: ${e.stack ?? String(e)}`);
    process.exit(3);
  });
}

function onMessage(slot: Slot, m: WorkerMessage): void {
  if (m.type === 'failure') return record(m.target, m.reproducer);
  const st = byIndex.get(m.target)!;
  if (m.type === 'repeat') {
    st.failures++;
    return;
  }
  st.inputs += m.inputs;
  st.episodes += m.episodes;
  st.ms += m.ms;
  st.busy--;
  slot.job = undefined;
  dispatch(slot);
  maybeFinish();
}

/**
 * The next job: the target that has had the least time and has not reached its share of inputs,
 * preferring one that no other worker is running.
 */
function dispatch(slot: Slot): void {
  const left = deadline - performance.now();
  if (finished || left <= 0) return;
  const st = states.filter((s) => s.inputs < QUOTA).sort((a, b) => a.busy - b.busy || a.ms - b.ms)[0];
  if (!st) return;
  const share = Math.max(1, Math.ceil((QUOTA - st.inputs) / (st.busy + 1)));
  st.busy++;
  const job: Job = { target: st.index, seed: SEED, job: st.jobs++, maxMs: Math.min(SLICE_MS, left), maxInputs: share, hangMs: HANG_MS };
  slot.job = job;
  slot.jobAt = performance.now();
  slot.lastBeat = Atomics.load(slot.hb, HB.BEAT);
  slot.lastBeatAt = performance.now();
  slot.worker.postMessage(job);
}

/** A worker stuck in one step: its input is regenerated from the seed in shared memory. */
function watchdog(): void {
  const now = performance.now();
  for (const slot of slots) {
    if (!slot.job) continue;
    const b = Atomics.load(slot.hb, HB.BEAT);
    if (b !== slot.lastBeat) {
      slot.lastBeat = b;
      slot.lastBeatAt = now;
      continue;
    }
    if (now - slot.lastBeatAt < WATCHDOG_MS) continue;
    const job = slot.job;
    const t = TARGETS[job.target]!;
    const es = Atomics.load(slot.hb, HB.EPISODE_SEED) >>> 0;
    const stepIndex = Math.max(0, Atomics.load(slot.hb, HB.STEP));
    const episodes = Atomics.load(slot.hb, HB.EPISODES);
    void slot.worker.terminate();
    const steps = t.generate(new Rng(es)).steps.slice(0, stepIndex + 1);
    const message = `HangError: step ${stepIndex} did not return within ${Math.round(now - slot.lastBeatAt)} ms`;
    record(job.target, toReproducer(t.name, SEED, es, steps, { kind: 'hang', message, stack: '', step: stepIndex }));
    const st = byIndex.get(job.target)!;
    st.inputs += Atomics.load(slot.hb, HB.INPUTS);
    st.episodes += episodes + 1;
    st.ms += now - slot.jobAt;
    st.busy--;
    slot.job = undefined;
    Atomics.store(slot.hb, HB.BEAT, 0);
    start(slot);
    dispatch(slot);
  }
  maybeFinish();
}

const totals = (): { inputs: number; failures: number; distinct: number } => ({
  inputs: states.reduce((n, s) => n + s.inputs, 0),
  failures: states.reduce((n, s) => n + s.failures, 0),
  distinct: written.size,
});

function progress(): void {
  const s = (performance.now() - t0) / 1000;
  const t = totals();
  const running = slots.flatMap((x) => (x.job ? [TARGETS[x.job.target]!.name] : [])).join(', ');
  log(`fuzz: ${s.toFixed(0)} s  ${fmt(t.inputs)} inputs (${fmt(t.inputs / Math.max(s, 0.001))}/s)  failures ${t.failures} (${t.distinct} distinct)  running: ${running}`);
}

function maybeFinish(): void {
  if (finished || slots.some((s) => s.job)) return;
  const more = performance.now() < deadline && states.some((s) => s.inputs < QUOTA);
  if (more) {
    for (const s of slots) dispatch(s);
    if (slots.some((s) => s.job)) return;
  }
  finished = true;
  clearInterval(timers.watchdog);
  clearInterval(timers.progress);
  report();
  for (const s of slots) void s.worker.terminate();
  process.exitCode = totals().distinct > 0 ? 1 : 0;
}

function report(): void {
  const elapsed = (performance.now() - t0) / 1000;
  const t = totals();
  log('');
  log(`${'target'.padEnd(20)} ${'inputs'.padStart(11)} ${'episodes'.padStart(9)} ${'time s'.padStart(7)} ${'inputs/s'.padStart(9)} ${'failures'.padStart(9)} ${'distinct'.padStart(8)}`);
  for (const s of states) {
    const secs = s.ms / 1000;
    log(`${s.name.padEnd(20)} ${fmt(s.inputs).padStart(11)} ${fmt(s.episodes).padStart(9)} ${secs.toFixed(1).padStart(7)} ${fmt(s.inputs / Math.max(secs, 0.001)).padStart(9)} ${String(s.failures).padStart(9)} ${String(s.distinct.size).padStart(8)}`);
  }
  log(`${'total'.padEnd(20)} ${fmt(t.inputs).padStart(11)} ${fmt(states.reduce((n, s) => n + s.episodes, 0)).padStart(9)} ${(states.reduce((n, s) => n + s.ms, 0) / 1000).toFixed(1).padStart(7)} ${fmt(t.inputs / Math.max(elapsed, 0.001)).padStart(9)} ${String(t.failures).padStart(9)} ${String(t.distinct).padStart(8)}`);
  log(`fuzz: ${fmt(t.inputs)} inputs in ${elapsed.toFixed(1)} s wall clock on ${WORKERS} workers (${fmt(t.inputs / Math.max(elapsed, 0.001))}/s), seed ${SEED}; ${t.distinct} distinct failure(s)${t.distinct > 0 ? `: ${[...written.values()].join(', ')}` : ''}`);
  const summary = {
    seed: SEED,
    workers: WORKERS,
    seconds: elapsed,
    inputs: t.inputs,
    failures: t.failures,
    distinct: [...written.values()],
    targets: states.map((s) => ({ name: s.name, inputs: s.inputs, episodes: s.episodes, workerSeconds: s.ms / 1000, failures: s.failures, distinct: s.distinct.size })),
  };
  writeFileSync(join(OUT, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
}

const timers = { watchdog: setInterval(watchdog, 250), progress: setInterval(progress, PROGRESS_MS) };
for (let i = 0; i < WORKERS; i++) slots.push(spawn());
for (const s of slots) dispatch(s);
maybeFinish();

