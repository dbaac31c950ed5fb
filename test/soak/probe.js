'use strict';
/**
 * Preloaded into the service by the soak script (`node --require probe.js`):
 * every SOAK_PROBE_INTERVAL_MS it appends one JSON line to SOAK_PROBE_FILE
 * with the process's memory and the event-loop delay seen since the last
 * line. Sampling from inside is the only way to see the event loop's delay;
 * a line every few seconds costs the service nothing measurable.
 */
const { appendFileSync } = require('node:fs');
const { PerformanceObserver, constants, monitorEventLoopDelay } = require('node:perf_hooks');
const { isMainThread } = require('node:worker_threads');

const file = process.env.SOAK_PROBE_FILE;
// Worker threads inherit `--require`; only the main thread, the one that serves requests, reports.
if (file && isMainThread) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // The heap right after a full collection is what the process really holds;
  // sampled at any other moment it mostly shows where the GC sawtooth happens to be.
  let heapAfterMajorGc;
  let majorGcs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      majorGcs++;
      heapAfterMajorGc = process.memoryUsage().heapUsed;
    }
  }).observe({ entryTypes: ['gc'] });
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  setInterval(() => {
    const memory = process.memoryUsage();
    const sample = {
      t: Date.now(),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      heapAfterMajorGc,
      majorGcs,
      external: memory.external,
      eldMeanMs: ms(delay.mean),
      eldP50Ms: ms(delay.percentile(50)),
      eldP99Ms: ms(delay.percentile(99)),
      eldMaxMs: ms(delay.max),
    };
    delay.reset();
    appendFileSync(file, `${JSON.stringify(sample)}\n`);
  }, Number(process.env.SOAK_PROBE_INTERVAL_MS || 5000)).unref();
}
