import { MongoBulkWriteError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import { onlyAlreadyNewer } from './mongodb-read-model';

// The driver's own error classes, built as it builds them; no server is involved.
const result = (writeConcernError?: unknown) => ({ getWriteConcernError: () => writeConcernError }) as never;
// Write errors as the driver reports them (its WriteError class is not exported to build one).
const writeError = (code: number, index: number, errmsg: string) => ({ code, index, errmsg }) as never;
const duplicate = (index: number) => writeError(11000, index, 'E11000 duplicate key error collection: users index: _id_');

describe('MongoDB saveProfiles: what counts as "already newer"', () => {
  it('is a bulk write error whose every write error is a duplicate key', () => {
    const error = new MongoBulkWriteError({ message: 'dup', code: 11000, writeErrors: [duplicate(0), duplicate(3)] }, result());
    expect(onlyAlreadyNewer(error)).toBe(true);
  });

  it('is never a connection or selection failure wrapped as a bulk write error, which carries no write errors', () => {
    expect(onlyAlreadyNewer(new MongoBulkWriteError(new MongoNetworkError('connection reset'), result()))).toBe(false);
    expect(onlyAlreadyNewer(new MongoBulkWriteError(new MongoServerSelectionError('no primary', {} as never), result()))).toBe(false);
  });

  it('is never a mix with other write errors, nor a write concern failure', () => {
    const mixed = new MongoBulkWriteError({ message: 'mixed', code: 11000, writeErrors: [duplicate(0), writeError(121, 1, 'validation')] }, result());
    expect(onlyAlreadyNewer(mixed)).toBe(false);
    const concern = new MongoBulkWriteError({ message: 'dup', code: 11000, writeErrors: [duplicate(0)] }, result({ code: 64, errmsg: 'waiting for replication timed out' }));
    expect(onlyAlreadyNewer(concern)).toBe(false);
  });

  it('is never another kind of error', () => {
    expect(onlyAlreadyNewer(new Error('E11000'))).toBe(false);
    expect(onlyAlreadyNewer(undefined)).toBe(false);
  });
});
