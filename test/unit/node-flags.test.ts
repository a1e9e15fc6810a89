/**
 * sstpd's Node flags (src/common/node-flags.ts) live in one list, but V8 takes them only from the
 * command line: every place that starts our processes must say the same, which this checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { missingNodeFlags, NODE_FLAGS, withNodeFlags } from '../../src/common/node-flags.js';

const ROOT = process.cwd();

test('node flags: the CLIs run with them (shebang), as do npm start and the systemd unit through /usr/bin/sstpd', () => {
  const want = `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`;
  for (const cli of ['sstpd', 'sstp-connect', 'sstp-load']) {
    assert.equal(readFileSync(join(ROOT, 'src', 'cli', `${cli}.ts`), 'utf8').split('\n')[0], want, cli);
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
  assert.equal(pkg.scripts['start'], `node ${NODE_FLAGS.join(' ')} dist/src/cli/sstpd.js`);
  assert.equal(pkg.bin['sstpd'], 'dist/src/cli/sstpd.js');
  assert.match(readFileSync(join(ROOT, 'packaging', 'sstpd.service'), 'utf8'), /^ExecStart=\/usr\/bin\/sstpd /m);
});

test('node flags: what is missing counts a flag by name, from the command line or NODE_OPTIONS', () => {
  assert.deepEqual(NODE_FLAGS, ['--max-semi-space-size=4', '--initial-old-space-size=64']);
  assert.deepEqual(missingNodeFlags([], ''), [...NODE_FLAGS]);
  assert.deepEqual(missingNodeFlags(['--max-semi-space-size=8'], ''), ['--initial-old-space-size=64'], 'another value is the operator\'s choice');
  assert.deepEqual(missingNodeFlags(['--initial-old-space-size=128'], '--max-old-space-size=512 --max-semi-space-size=2'), []);
  assert.deepEqual(missingNodeFlags(['--inspect'], '--max-old-space-size=512'), [...NODE_FLAGS]);
});

test('node flags: a worker gets them even when its primary was started without them', () => {
  assert.deepEqual(withNodeFlags(['--inspect'], ''), [...NODE_FLAGS, '--inspect']);
  assert.deepEqual(withNodeFlags(['--max-semi-space-size=8'], ''), ['--initial-old-space-size=64', '--max-semi-space-size=8']);
  assert.deepEqual(withNodeFlags([], '--max-semi-space-size=8 --initial-old-space-size=32'), [], 'the NODE_OPTIONS the worker inherits keeps its values');
});
