'use strict';
/**
 * Summarises a V8 .cpuprofile: self time by package (or project file) and by
 * function, as shares of all samples.
 *
 *   profile-summary.js FILE.cpuprofile [TOP]
 */
const { readFileSync } = require('node:fs');

function summarize(file, top = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let total = 0;
  for (const t of self.values()) total += t;
  const byPlace = new Map();
  const byFunction = new Map();
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const place = placeOf(url, functionName);
    const fn = `${functionName || '(anonymous)'} ${url ? url.split('/').slice(-2).join('/') + ':' + (lineNumber + 1) : ''}`.trim();
    byPlace.set(place, (byPlace.get(place) ?? 0) + t);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + t);
  }
  const rank = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, t]) => ({ name, share: t / total }));
  return { seconds: total / 1e6, byPlace: rank(byPlace), byFunction: rank(byFunction) };
}

function placeOf(url, functionName) {
  if (!url) return functionName || '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length).replace(/\.js$/, '');
  return url.startsWith('node:') ? url : url.split('/').slice(-2).join('/');
}

function format(summary) {
  const line = ({ name, share }) => `${(share * 100).toFixed(1).padStart(5)}%  ${name}`;
  return [
    `${summary.seconds.toFixed(1)} s of samples`,
    'self time by package or file:',
    ...summary.byPlace.map(line),
    'self time by function:',
    ...summary.byFunction.map(line),
  ].join('\n');
}

if (require.main === module) {
  process.stdout.write(format(summarize(process.argv[2], Number(process.argv[3] ?? 25))) + '\n');
}

module.exports = { summarize, format };
