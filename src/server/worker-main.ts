/**
 * The body of a worker process (`sstpd` started by the primary through node:cluster): asks the
 * primary for its slot and the configuration text, runs a Daemon in worker mode, answers the
 * primary's requests (sstpctl, DAE, reload, stop) and reports its sessions' counters.
 */
import type { Logger } from '../common/log.js';
import { sessionInterfaceNames } from '../dataplane/iface.js';
import { setSessionNumbering } from '../session/driver.js';
import { Daemon } from './daemon.js';
import { daeSessionsOf, registryTargets } from './radius.js';
import type { CallHandlers, WorkerCalls } from './ipc.js';
import { REPORT_INTERVAL_MS, SharedState, connectToPrimary } from './worker.js';

/** NAS-Port numbers of slot k start at k × this (unique over the workers, as one process's are). */
const SLOT_SPAN = 0x100000;
/** After answering `stop`, the time the answer gets to leave before the process exits. */
const EXIT_GRACE_MS = 200;

export async function runWorker(log: Logger): Promise<number> {
  let daemon: Daemon | undefined;
  let wlog = log;
  const need = (): Daemon => {
    if (!daemon) throw new Error('the worker is still starting');
    return daemon;
  };
  const handlers: Partial<CallHandlers<WorkerCalls>> = {
    control: (req) => need().control(req),
    'dae-sessions': () => daeSessionsOf(need().registry),
    'end-session': async ({ sid, cause, reason }) => {
      const s = need().registry.get(sid);
      if (!s) return { found: false };
      if (cause === 'session-replaced') wlog.info({ sid, username: s.info().username, reason }, 'session-replaced');
      await s.terminate(cause, reason);
      return { found: true };
    },
    coa: async ({ sid, changes }) => {
      const classes = changes.classes?.map((c) => Buffer.from(c));
      await registryTargets(need().registry).reauthorize(sid, { ...changes, ...(classes ? { classes } : {}) });
      return {};
    },
    metrics: () => need().metrics.registry.getMetricsAsJSON(),
    starting: () => need().startingCount(),
    reload: async ({ source, generation }) => {
      if (!(await need().reload({ source, generation }))) throw new Error('reload failed; see the log');
      return { generation };
    },
    stop: async () => {
      const d = need();
      const sessions = d.registry.size;
      await d.stop();
      setTimeout(() => process.exit(0), EXIT_GRACE_MS);
      return { sessions };
    },
  };
  const peer = connectToPrimary(handlers, log);
  const init = await peer.call('hello', { pid: process.pid });
  wlog = log.child({ worker: init.slot });
  setSessionNumbering(init.slot * SLOT_SPAN + 1);
  sessionInterfaceNames.spread(init.slot, init.workers);
  const shared = new SharedState(peer);
  daemon = new Daemon({
    source: init.source,
    stateDir: '',
    log: wlog,
    ...(init.host !== undefined ? { host: init.host } : {}),
    worker: { slot: init.slot, workers: init.workers, peer, shared, generation: init.generation, balance: init.balance },
  });
  try {
    await daemon.start();
  } catch (err) {
    wlog.error({ err: err instanceof Error ? err.message : String(err) }, 'worker-start-failed');
    return 1;
  }
  // Signals are the primary's to act on (a process-group SIGINT/SIGTERM reaches us too).
  for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) process.on(sig, () => undefined);
  const registry = daemon.registry;
  setInterval(() => {
    const sessions = registry.all().map((s) => {
      const i = s.info();
      return { sid: i.sid, rxBytes: i.rxBytes, txBytes: i.txBytes, rxPackets: i.rxPackets, txPackets: i.txPackets };
    });
    if (sessions.length > 0) peer.notify('report', { sessions });
  }, REPORT_INTERVAL_MS).unref();
  peer.notify('ready', {});
  // Runs until the primary says stop (or goes away: cluster then ends this process).
  await new Promise<never>(() => undefined);
  return 0;
}
