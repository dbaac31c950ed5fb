import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config';
import { requireServiceDataDir } from './storage.module';

describe("the CLI's check of the data directory", () => {
  const dir = mkdtempSync(join(tmpdir(), 'visitorbase-datadir-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const esdb = { EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://localhost:2113?tls=false' };

  it('wants the embedded event store in it', () => {
    expect(() => requireServiceDataDir(loadConfig({ DATA_DIR: dir }))).toThrow(`no event store in ${dir} (no events.sqlite)`);
    writeFileSync(join(dir, 'events.sqlite'), '');
    expect(() => requireServiceDataDir(loadConfig({ DATA_DIR: dir }))).not.toThrow();
  });

  it('wants the directory itself when only the read model is embedded', () => {
    const typo = join(dir, 'typo');
    expect(() => requireServiceDataDir(loadConfig({ DATA_DIR: typo, ...esdb }))).toThrow(`no data directory ${typo} for the read model`);
    expect(() => requireServiceDataDir(loadConfig({ DATA_DIR: dir, ...esdb }))).not.toThrow();
  });

  it('has nothing to look for when both stores are servers', () => {
    const config = loadConfig({ DATA_DIR: join(dir, 'typo'), ...esdb, READ_MODEL: 'mongodb', MONGODB_URL: 'mongodb://localhost:27017/x' });
    expect(() => requireServiceDataDir(config)).not.toThrow();
  });
});
