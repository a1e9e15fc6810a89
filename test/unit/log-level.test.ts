import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { applyLogLevel, pinoLevelOf } from '../../src/common/log.js';

test('VyOS log level 0-5 → pino: none, error, warn, info, info, debug; absent = 3', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(pinoLevelOf), ['silent', 'error', 'warn', 'info', 'info', 'debug']);
  assert.equal(pinoLevelOf(undefined), 'info');
});

test('applyLogLevel: the config sets the level, its absence restores the fallback, $SSTPD_LOG_LEVEL wins', () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  applyLogLevel(log, 1, 'info', {});
  log.warn('dropped');
  log.error('kept');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['kept']);
  applyLogLevel(log, 5, 'info', {});
  assert.equal(log.level, 'debug');
  applyLogLevel(log, undefined, 'info', {});
  assert.equal(log.level, 'info');
  applyLogLevel(log, 0, 'info', { SSTPD_LOG_LEVEL: 'debug' });
  assert.equal(log.level, 'info', 'the environment override leaves the level alone');
  applyLogLevel(log, 0, 'info', { SSTPD_LOG_LEVEL: '' });
  assert.equal(log.level, 'silent');
});
