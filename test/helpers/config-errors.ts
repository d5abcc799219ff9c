import assert from 'node:assert/strict';
import { ConfigError } from '../../middleware/settings.ts';

/** Asserts that `build` throws a one-line ConfigError for `setting` whose message matches `message`. */
export function assertRefused(build: () => unknown, setting: string, message: RegExp): void {
  assert.throws(build, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.setting, setting);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}
