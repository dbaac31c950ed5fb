import { ConfigError, loadConfig, redactUrl } from './config';

describe('loadConfig: backends', () => {
  it('keeps both stores embedded by default', () => {
    const config = loadConfig({});
    expect(config.eventStore).toEqual({ kind: 'sqlite' });
    expect(config.readModel).toEqual({ kind: 'sqlite' });
  });

  it('selects EventStoreDB and MongoDB, alone or together', () => {
    const esdb = { EVENT_STORE: 'eventstoredb', EVENTSTORE_URL: 'esdb://eventstore:2113?tls=false' };
    const mongo = { READ_MODEL: 'mongodb', MONGODB_URL: 'mongodb://mongodb:27017/visitorbase' };
    expect(loadConfig({ ...esdb, ...mongo })).toMatchObject({
      eventStore: { kind: 'eventstoredb', url: 'esdb://eventstore:2113?tls=false' },
      readModel: { kind: 'mongodb', url: 'mongodb://mongodb:27017/visitorbase' },
    });
    expect(loadConfig(esdb)).toMatchObject({ eventStore: { kind: 'eventstoredb' }, readModel: { kind: 'sqlite' } });
    expect(loadConfig(mongo)).toMatchObject({ eventStore: { kind: 'sqlite' }, readModel: { kind: 'mongodb' } });
  });

  it('does not switch backend because a URL happens to be set', () => {
    expect(loadConfig({ EVENTSTORE_URL: 'esdb://x:2113', MONGODB_URL: 'mongodb://x' })).toMatchObject({
      eventStore: { kind: 'sqlite' },
      readModel: { kind: 'sqlite' },
    });
  });

  it('says what is missing or wrong, without echoing credentials', () => {
    expect(() => loadConfig({ EVENT_STORE: 'eventstoredb' })).toThrow(
      new ConfigError('EVENT_STORE=eventstoredb needs EVENTSTORE_URL, e.g. EVENTSTORE_URL=esdb://localhost:2113?tls=false'),
    );
    expect(() => loadConfig({ READ_MODEL: 'mongodb', MONGODB_URL: 'http://admin:hunter2@mongo:27017' })).toThrow(
      new ConfigError('MONGODB_URL must look like mongodb://localhost:27017/visitorbase, got "http://mongo:27017"'),
    );
    expect(() => loadConfig({ EVENT_STORE: 'postgres' })).toThrow(/EVENT_STORE must be sqlite or eventstoredb/);
    expect(() => loadConfig({ READ_MODEL: 'redis' })).toThrow(/READ_MODEL must be sqlite or mongodb/);
  });
});

describe('redactUrl', () => {
  it('drops the user information, even a password with an unescaped @', () => {
    expect(redactUrl('esdb://admin:changeit@eventstore:2113?tls=false')).toBe('esdb://eventstore:2113?tls=false');
    expect(redactUrl('mongodb://app:p@ss@m1:27017,m2:27017/visitorbase?replicaSet=rs0')).toBe(
      'mongodb://m1:27017,m2:27017/visitorbase?replicaSet=rs0',
    );
    expect(redactUrl('mongodb+srv://u@cluster.example.net/db')).toBe('mongodb+srv://cluster.example.net/db');
  });

  it('hides secret query values', () => {
    expect(redactUrl('mongodb://m/db?tls=true&tlsCertificateKeyFilePassword=s3cret&w=majority')).toBe(
      'mongodb://m/db?tls=true&tlsCertificateKeyFilePassword=***&w=majority',
    );
    expect(redactUrl('mongodb://m/?authMechanismProperties=AWS_SESSION_TOKEN:abc')).toBe(
      'mongodb://m/?authMechanismProperties=***',
    );
  });

  it('leaves a URL without secrets as it is', () => {
    expect(redactUrl('esdb://localhost:2113?tls=false')).toBe('esdb://localhost:2113?tls=false');
  });
});
