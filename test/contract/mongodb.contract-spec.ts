import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { MongoReadModel } from '@visitorbase/read-model/mongodb';
import { readModelContract } from './read-model.contract';

/**
 * The read model contract against a real MongoDB, whenever MONGODB_URL names
 * one (e.g. mongodb://localhost:27017). Each run works in a database of its
 * own, since the contract starts from a read model without checkpoint, and
 * drops it afterwards.
 */
const url = process.env.MONGODB_URL;

if (url) {
  const databaseName = `visitorbase_contract_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

  afterAll(async () => {
    const client = new MongoClient(url);
    try {
      await client.db(databaseName).dropDatabase();
    } finally {
      await client.close();
    }
  });

  describe('ReadModel contract: MongoDB', () => {
    readModelContract(() => MongoReadModel.connect(url, { databaseName }));
  });
} else {
  const reason = 'MONGODB_URL is not set: set it to a MongoDB server, e.g. mongodb://localhost:27017';
  process.stderr.write(`ReadModel contract: MongoDB skipped (${reason})\n`);
  describe('ReadModel contract: MongoDB', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}
