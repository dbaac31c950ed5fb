import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '@visitorbase/event-store';
import { SqliteReadModel } from '@visitorbase/read-model';
import { eventStoreContract } from './event-store.contract';
import { readModelContract } from './read-model.contract';

const dir = mkdtempSync(join(tmpdir(), 'visitorbase-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('EventStore contract: SQLite', () => {
  eventStoreContract(async () => new SqliteEventStore(join(dir, 'events.sqlite')));
});

describe('ReadModel contract: SQLite', () => {
  readModelContract(async () => new SqliteReadModel(join(dir, 'read-model.sqlite')));
});
