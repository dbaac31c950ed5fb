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

describe('loadConfig: rate limit', () => {
  it('is off unless RATE_LIMIT_PER_SECOND is set above 0', () => {
    expect(loadConfig({}).rateLimit).toBeUndefined();
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: '' }).rateLimit).toBeUndefined();
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: '0' }).rateLimit).toBeUndefined();
  });

  it('defaults the burst to one second of requests', () => {
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: '50' }).rateLimit).toEqual({ perSecond: 50, burst: 50 });
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: '0.5' }).rateLimit).toEqual({ perSecond: 0.5, burst: 1 });
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: '50', RATE_LIMIT_BURST: '200' }).rateLimit).toEqual({ perSecond: 50, burst: 200 });
  });

  it('says what is wrong with a malformed value', () => {
    expect(() => loadConfig({ RATE_LIMIT_PER_SECOND: 'lots' })).toThrow(/RATE_LIMIT_PER_SECOND must be a number/);
    expect(() => loadConfig({ RATE_LIMIT_PER_SECOND: '-1' })).toThrow(/RATE_LIMIT_PER_SECOND must be a number/);
    expect(() => loadConfig({ RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '0.5' })).toThrow(/RATE_LIMIT_BURST must be at least 1/);
    // 0 is not "the default": it would let nothing through.
    expect(() => loadConfig({ RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '0' })).toThrow(/RATE_LIMIT_BURST must be at least 1/);
    expect(() => loadConfig({ RATE_LIMIT_PER_SECOND: '0x10' })).toThrow(/RATE_LIMIT_PER_SECOND must be a number/);
  });

  it('refuses a burst without a rate, rather than ignoring it', () => {
    expect(() => loadConfig({ RATE_LIMIT_BURST: '100' })).toThrow('RATE_LIMIT_BURST is set without a RATE_LIMIT_PER_SECOND above 0: set both, or neither');
    expect(() => loadConfig({ RATE_LIMIT_BURST: 'abc' })).toThrow(/RATE_LIMIT_BURST must be a number/);
  });
});

describe('loadConfig: numbers are decimal digits', () => {
  it('takes a blank PORT as unset, and refuses hex, binary and exponents', () => {
    expect(loadConfig({ PORT: ' ' }).port).toBe(3000);
    expect(loadConfig({ PORT: ' 8080 ' }).port).toBe(8080);
    for (const port of ['0x10E6', '1e3', '0b11', '12.0', '-1', '65536']) {
      expect(() => loadConfig({ PORT: port })).toThrow(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(port)}`);
    }
    expect(() => loadConfig({ CONSISTENCY_TIMEOUT_MS: '1e3' })).toThrow(/CONSISTENCY_TIMEOUT_MS must be an integer/);
  });

  it('trims DATA_DIR, and takes a blank one as unset', () => {
    expect(loadConfig({ DATA_DIR: '  ' }).dataDir).toBe(loadConfig({}).dataDir);
    expect(loadConfig({ DATA_DIR: ' /srv/data ' }).dataDir).toBe('/srv/data');
  });
});

describe('loadConfig: shutdown', () => {
  it('bounds an orderly shutdown to 10 s unless SHUTDOWN_TIMEOUT_MS says otherwise', () => {
    expect(loadConfig({}).shutdownTimeoutMs).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '2500' }).shutdownTimeoutMs).toBe(2500);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_MS: 'soon' })).toThrow(/SHUTDOWN_TIMEOUT_MS must be an integer from 100 to 600000/);
  });
});
