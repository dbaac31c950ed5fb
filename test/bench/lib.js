'use strict';
/** Process plumbing shared by the benchmark scripts. */
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Starts a server as a child process and resolves once it prints the URL it
 * listens on. Output is kept (the tail only) for the error message of a
 * server that dies.
 */
function startServer(name, script, { env = {}, nodeArgs = [], timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let settled = false;
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-8000);
      if (settled) return;
      const match = /listening on (http:\/\/[^\s]+)/.exec(output.replace(ANSI, ''));
      if (match) {
        settled = true;
        clearTimeout(timer);
        resolve(server(name, child, match[1], () => output));
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.once('exit', (code, signal) => fail(new Error(`${name} exited (${code ?? signal}) before listening:\n${output}`)));
    function fail(error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    }
  });
}

function server(name, child, url, output) {
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    name,
    url,
    pid: child.pid,
    output,
    exited,
    /** Stops the server with `signal` and waits for it; SIGKILL after `graceMs`. */
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Runs a benchmark script as its own process and parses the JSON line it prints last. */
function runJson(script, args = [], { env = {}, nodeArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(__dirname, script), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err = (err + c).slice(-8000)));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`${script} failed (${code ?? signal}):\n${err}${out.slice(-2000)}`));
      const last = out.trim().split('\n').pop();
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${script} printed no JSON result:\n${out.slice(-2000)}\n${err}`));
      }
    });
  });
}

function rssKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples a process's resident set every `everyMs` until stopped and gives
 * the peak in MB. Sampling from outside sees every phase of a long-running
 * server separately, which the kernel's own high-water mark cannot.
 */
function sampleRss(pid, everyMs = 100) {
  let peak = rssKb(pid) ?? 0;
  const timer = setInterval(() => {
    const kb = rssKb(pid);
    if (kb !== undefined && kb > peak) peak = kb;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const kb = rssKb(pid);
      if (kb !== undefined && kb > peak) peak = kb;
      return peak / 1024;
    },
  };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

module.exports = { ROOT, startServer, runJson, sampleRss, rssKb, sleep };
