export * from './eventstoredb-event-store';
export { isSystemStream } from './mapping';
