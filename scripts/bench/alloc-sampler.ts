/**
 * Preloaded into a replica (`node -r dist/scripts/bench/alloc-sampler.js`): samples where it
 * allocates, objects the GC has already collected included (V8's sampling heap profiler; a
 * `--heap-prof` profile shows only what is still alive at exit). Sampling starts after
 * ALLOC_SAMPLER_DELAY_MS (start-up left out); on SIGTERM the profile is written to
 * `$ALLOC_SAMPLER_DIR/alloc-<pid>.json` before the replica's own shutdown begins.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.ALLOC_SAMPLER_DIR ?? '.';
const session = new Session();
session.connect();
setTimeout(() => {
  session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}, Number(process.env.ALLOC_SAMPLER_DELAY_MS ?? 0)).unref();
process.prependListener('SIGTERM', () => {
  session.post('HeapProfiler.stopSampling', (err, reply) => {
    if (!err) writeFileSync(join(dir, `alloc-${process.pid}.json`), JSON.stringify(reply.profile));
  });
});
