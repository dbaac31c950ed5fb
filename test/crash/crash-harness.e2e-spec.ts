import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { position } from '@visitorbase/event-store';

const HARNESS = join(__dirname, 'crash-harness.js');

interface Summary {
  ok: boolean;
  kills: number;
  acked: number;
  lost: number;
  duplicated: number;
  partial: number;
  unexpectedStatus: number;
  profiles: number;
  problems: string[];
}

// The harness is plain Node, as `npm run test:crash` runs it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { verify, makeRequest } = require('./crash-harness') as {
  verify: (input: unknown) => { problems: string[]; counts: Record<string, number> };
  makeRequest: (id: number, rnd: () => number, visitors: number) => { id: number; environment: string; body: { userId: string; events: unknown[] }; outcome: string };
};

function runHarness(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [HARNESS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('crash safety under SIGKILL (the short form of npm run test:crash)', () => {
  it('keeps every acknowledged write and an exact read model across 3 kills during ingest', async () => {
    // Every kill lands during ingest here, so each one has acknowledged writes to lose; the full
    // form also kills during start-up.
    const { code, stdout, stderr } = await runHarness(['--kills', '3', '--max-uptime-ms', '1500', '--startup-kill-share', '0']);
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? 'null') as Summary | null;
    expect({ summary: summary?.problems, stderr: code === 0 ? '' : stderr }).toEqual({ summary: [], stderr: '' });
    expect(code).toBe(0);
    expect(summary).toMatchObject({ ok: true, kills: 3, lost: 0, duplicated: 0, partial: 0, unexpectedStatus: 0 });
    expect(summary!.acked).toBeGreaterThan(0);
    expect(summary!.profiles).toBeGreaterThan(0);
  }, 180_000);
});

describe('the harness checker', () => {
  const upserted = (stream: string, revision: number, commit: number, req: string) => ({
    stream,
    revision,
    position: position(BigInt(commit)),
    type: 'UserUpserted',
    data: { userId: stream.split('-').slice(2).join('-'), receivedAt: 1000, attributes: { req } },
  });
  const tracked = (stream: string, revision: number, commit: number, timestamp: number) => ({
    stream,
    revision,
    position: position(BigInt(commit)),
    type: 'EventTracked',
    data: { userId: stream.split('-').slice(2).join('-'), event: 'Event 1', timestamp },
  });
  const entry = (id: number, outcome: string, events = 0) => ({
    ...makeRequest(id, () => 0, 1),
    body: { userId: 'visitor/0', attributes: { req: `r${id}` }, events: Array.from({ length: events }, (_, i) => ({ event: 'Event 1', timestamp: id * 10 + i })) },
    environment: 'development',
    outcome,
  });
  const stream = 'visitor-development-visitor/0';
  const profile = (count: number) =>
    JSON.stringify({ id: 'x', createdAt: 1000, attributes: { req: 'r1' }, events: [{ event: 'Event 1', count, createdAt: 10, updatedAt: 11 }] });

  it('accepts a log and read model that agree with the ledger', () => {
    const events = [upserted(stream, 0, 1, 'r1'), tracked(stream, 1, 2, 10), tracked(stream, 2, 3, 11)];
    const { problems } = verify({
      ledger: [entry(1, 'acked', 2), entry(2, 'no-answer', 1)],
      events,
      head: position(3n),
      readModel: { profiles: new Map([[`development\u0000visitor/0`, profileOf(events)]]), checkpoint: position(3n) },
      served: new Map([[`development\u0000visitor/0`, profileOf(events)]]),
    });
    expect(problems).toEqual([]);
  });

  it('reports an acknowledged write missing from the log, a duplicate, a partial request and a double count', () => {
    const events = [upserted(stream, 0, 1, 'r1'), tracked(stream, 1, 2, 10), upserted(stream, 2, 3, 'r1'), upserted(stream, 3, 4, 'r3')];
    const { problems } = verify({
      ledger: [entry(1, 'acked', 2), entry(2, 'acked'), entry(3, 'no-answer', 1)],
      events,
      head: position(4n),
      readModel: { profiles: new Map([[`development\u0000visitor/0`, profile(2)]]), checkpoint: position(3n) },
      served: new Map([[`development\u0000visitor/0`, profile(2)]]),
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'request r1 is in the log 2 times',
        'request r2 was answered 202 but is not in the log',
        'request r3 has 0 of its 1 tracked events in the log',
        `${stream}: "Event 1" counted 2, the log holds 1`,
        'read model checkpoint 3 is not the head of the log 4',
      ]),
    );
  });
});

/** The profile the product's fold gives for `events`, as the read model stores it. */
function profileOf(events: Array<{ stream: string; revision: number; type: string; data: unknown }>): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const domain = require('../../dist/libs/users/src/domain');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { toFact } = require('../../dist/libs/users/src/projection/to-fact');
  let folded;
  for (const event of events) folded = domain.evolve(folded, toFact(event));
  return JSON.stringify(domain.toView(folded));
}
