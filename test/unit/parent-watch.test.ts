import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/shared/config-error';
import { parentWatchRequested, watchParent } from '../../src/shared/parent-watch';

/** Lets stream events queued by end()/destroy() fire. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('parent watch', () => {
  it('is off unless NEXUS_PARENT_WATCH=stdin, and rejects any other value', () => {
    expect(parentWatchRequested({})).toBe(false);
    expect(parentWatchRequested({ NEXUS_PARENT_WATCH: '' })).toBe(false);
    expect(parentWatchRequested({ NEXUS_PARENT_WATCH: 'stdin' })).toBe(true);
    expect(() => parentWatchRequested({ NEXUS_PARENT_WATCH: '1' })).toThrow(ConfigError);
    expect(() => parentWatchRequested({ NEXUS_PARENT_WATCH: 'yes' })).toThrow(/NEXUS_PARENT_WATCH: must be "stdin" or unset, not "yes"/);
  });

  it('calls back once when the pipe ends, not while data still flows', async () => {
    const pipe = new PassThrough();
    let calls = 0;
    watchParent(() => calls++, pipe);
    pipe.write('anything the parent might write\n');
    await settle();
    expect(calls).toBe(0);
    pipe.end();
    await settle();
    pipe.destroy();
    await settle();
    expect(calls).toBe(1);
  });

  it('treats a broken pipe (error) as the parent gone', async () => {
    const pipe = new PassThrough();
    let calls = 0;
    watchParent(() => calls++, pipe);
    pipe.destroy(new Error('EPIPE'));
    await settle();
    expect(calls).toBe(1);
  });

  it('stops watching when told to, so a later end is not news', async () => {
    const pipe = new PassThrough();
    let calls = 0;
    const stop = watchParent(() => calls++, pipe);
    stop();
    pipe.end();
    pipe.destroy(new Error('late'));
    await settle();
    expect(calls).toBe(0);
  });
});
