import request from 'supertest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { EVENT_STORE, EventStore, comparePositions } from '@visitorbase/event-store';
import { AppConfig } from '@visitorbase/platform';
import { ProjectionRunner } from '@visitorbase/users';
import { createApp } from '../../apps/api/src/app.factory';

export const DEV_KEY = 'dev-key-0123456789';
export const PROD_KEY = 'prod-key-9876543210';
export const API_KEYS = `development:${DEV_KEY},production:${PROD_KEY}`;

export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'visitorbase-e2e-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningApp {
  readonly app: NestFastifyApplication;
  readonly url: string;
  /** Resolves once the projector has applied everything appended so far. */
  readonly caughtUp: () => Promise<void>;
  readonly close: () => Promise<void>;
}

/** The real application, listening on an ephemeral loopback port. */
export async function startApp(dataDir: string, overrides: Partial<AppConfig> = {}): Promise<RunningApp> {
  const config: AppConfig = {
    dataDir,
    port: 0,
    host: '127.0.0.1',
    apiKeys: API_KEYS,
    projectorEnabled: true,
    logLevel: 'silent',
    consistencyTimeoutMs: 2000,
    ...overrides,
  };
  const { app } = await createApp(config, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const projector = app.get(ProjectionRunner);
  const store = app.get<EventStore>(EVENT_STORE);
  return {
    app,
    url,
    caughtUp: () => waitForProjection(projector, store),
    close: () => app.close(),
  };
}

/** Waits until the projector's position reaches the head of the log, as it is now. */
export async function waitForProjection(projector: ProjectionRunner, store: EventStore, timeoutMs = 10_000): Promise<void> {
  const head = await store.headPosition();
  if (head === undefined) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const at = projector.position;
    if (at !== undefined && comparePositions(at, head) >= 0) return;
    if (Date.now() > deadline) throw new Error('projection did not catch up in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export interface AppUnderTest {
  /** The running app; set once the suite's `beforeAll` has run. */
  readonly running: RunningApp;
  /** supertest bound to the app's URL. */
  readonly http: ReturnType<typeof request>;
  readonly dataDir: string;
}

/**
 * Starts the app, on a data directory of its own, before the tests of the
 * enclosing `describe`; closes it and removes the directory after them.
 */
export function useApp(overrides: Partial<AppConfig> = {}): AppUnderTest {
  const data = tempDataDir();
  const handle = { dataDir: data.dir } as { running: RunningApp; http: ReturnType<typeof request>; dataDir: string };
  beforeAll(async () => {
    handle.running = await startApp(data.dir, overrides);
    handle.http = request(handle.running.url);
  });
  afterAll(async () => {
    await handle.running?.close();
    data.remove();
  });
  return handle;
}
