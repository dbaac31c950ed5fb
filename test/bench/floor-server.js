'use strict';
/**
 * The floor: the service's own stores under plain Fastify, and nothing else.
 * A POST is parsed by Fastify, turned into the same events the service
 * stores (`upsertEvents`) and appended to the same SQLite event store, with
 * the same group commit and durability, before its 202. A GET answers the
 * body the read model holds. No Nest, no validation, no API key, no request
 * log, metrics or headers, no projector: what any service that stores and
 * serves the same data on this storage starts from. Set DATA_DIR; PORT and
 * HOST as for the reference. Loads the build named by BENCH_DIST (or dist/).
 */
const { mkdirSync } = require('node:fs');
const { join } = require('node:path');
const Fastify = require('fastify');

const DIST = process.env.BENCH_DIST || join(__dirname, '..', '..', 'dist');
const dist = (lib) => require(join(DIST, 'libs', lib, 'src'));
const { SqliteEventStore } = dist('event-store');
const { SqliteReadModel } = dist('read-model');
const { UpsertUserCommand, upsertEvents, visitorStream } = dist('users');

const ENVIRONMENT = 'development';
const port = Number(process.env.PORT || 0);
const host = process.env.HOST || '127.0.0.1';
mkdirSync(process.env.DATA_DIR, { recursive: true });
const events = new SqliteEventStore(join(process.env.DATA_DIR, 'events.sqlite'), { backgroundCheckpoints: true });
const profiles = new SqliteReadModel(join(process.env.DATA_DIR, 'read-model.sqlite'), { backgroundCheckpoints: true });

const app = Fastify();
app.post('/v2/users', async (request, reply) => {
  const command = new UpsertUserCommand(ENVIRONMENT, request.body, Date.now());
  await events.append(visitorStream({ environment: ENVIRONMENT, userId: command.body.userId }), upsertEvents(command), 'any');
  reply.code(202).type('text/plain; charset=utf-8').send('Accepted');
});
app.get('/v2/users/:userId', async (request, reply) => {
  const body = await profiles.findProfileJson(ENVIRONMENT, request.params.userId);
  if (body === undefined) return reply.code(404).type('application/json; charset=utf-8').send('{"message":"not found"}');
  return reply.type('application/json; charset=utf-8').send(body);
});
app.listen({ port, host }).then((url) => process.stdout.write(`listening on ${url}\n`));
// SIGINT too, so that a run under --cpu-prof writes its profile.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    app
      .close()
      .then(() => Promise.all([events.close(), profiles.close()]))
      .then(() => process.exit(0));
  });
}
