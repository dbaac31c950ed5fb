export * from './position';
export * from './partition';
export * from './event-id';
export * from './event-store.port';
export * from './sqlite/sqlite-event-store';
export * from './sqlite/wal-checkpointer';
