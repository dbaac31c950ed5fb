import { EventStore, LoggedEvent, Position, StreamPartition, checkPartition, comparePositions } from '@visitorbase/event-store';
import { ReadModelView } from '@visitorbase/read-model';
import { ProfileDraft, draftOf, foldInto } from '../domain/profile';
import { VISITOR_STREAM_PREFIX, VisitorKey, parseVisitorStream } from '../domain/visitor-stream';
import { visitorFact } from './to-fact';

/** How often a rebuild saves what it has folded, unless told a number of events. */
export const REBUILD_SAVE_INTERVAL_MS = 10_000;
/**
 * Events read from the store at a time. Small pages die young: over 1 000 000
 * events, pages of 1 000 rebuilt about 300 000 events/s in a resident set of
 * 200 MB, pages of 10 000 about 255 000 in 330 MB, 50 000 about 240 000 in
 * 390 MB (the garbage of a big page outlives the young generation).
 */
const READ_PAGE = 1_000;
/**
 * Profiles kept in memory. Past it the rebuild saves early and forgets them
 * (a visitor seen again is loaded back from the read model), so memory is
 * bounded by this and a page of events, never by the length of the log.
 */
export const MAX_CACHED_PROFILES = 25_000;

export interface RebuildProgress {
  /** Events read from the log so far in this run. */
  readonly events: number;
  /** Position of the last event folded. */
  readonly position: Position;
  /** Position of the last event folded when this run last saved, if it has saved. */
  readonly saved?: Position;
}

export interface RebuildOptions {
  /** Saves after every this many events instead of every `saveEveryMs`. */
  readonly pageSize?: number;
  /** How often to save what was folded, when no pageSize is given (default REBUILD_SAVE_INTERVAL_MS). */
  readonly saveEveryMs?: number;
  /**
   * Writes a save in parts of at most this many profiles, pausing between
   * them, with the checkpoint in the last: beside a live service on the same
   * SQLite file, each part holds the write lock the live projector also needs
   * only briefly. Default: one write per save.
   */
  readonly maxProfilesPerWrite?: number;
  /** Stops the rebuild after the page being folded; what was folded is saved first. */
  readonly signal?: AbortSignal;
  /** Called after each page of events is folded (and saved, when a save was due): every min(pageSize, 1 000) events. */
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** Profiles kept in memory at most (default MAX_CACHED_PROFILES). */
  readonly maxCachedProfiles?: number;
  /**
   * Folds only the visitors of this share of the streams. Its saves then
   * leave the checkpoint alone, since the other shares are folded elsewhere:
   * whoever runs all the shares records it once they are all saved.
   */
  readonly partition?: StreamPartition;
  /** Folds no event past this position, even when the log has grown since. */
  readonly upTo?: Position;
}

export interface RebuildResult {
  readonly events: number;
  readonly facts: number;
  /** Position of the last event saved, or undefined when there was nothing to apply. */
  readonly position?: Position;
}

/**
 * Folds the visitor streams of the log, up to its head at the time of the
 * call, into `readModel`, from the read model's own checkpoint: given a fresh
 * read model it rebuilds every profile, and an interrupted rebuild resumes
 * where its last save left it.
 *
 * The fold runs in memory, with the same `foldInto` the live projection
 * uses: each visitor is loaded at most once (not at all in a fresh read
 * model), every event is folded into its draft in place as it is read, and
 * each save writes every visitor changed since the last one, whole, with the
 * checkpoint (`saveProfiles`), so the documents and the checkpoint move
 * together. A visitor touched by 100 events costs one write per save, not
 * one load and one write per page of events.
 */
export async function rebuildReadModel(
  store: EventStore,
  readModel: ReadModelView,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const pageSize = options.pageSize === undefined ? undefined : positiveInteger('pageSize', options.pageSize);
  const maxCached = positiveInteger('maxCachedProfiles', options.maxCachedProfiles ?? MAX_CACHED_PROFILES);
  const saveEveryMs = positiveInteger('saveEveryMs', options.saveEveryMs ?? REBUILD_SAVE_INTERVAL_MS);
  const maxPerWrite = options.maxProfilesPerWrite === undefined ? Infinity : positiveInteger('maxProfilesPerWrite', options.maxProfilesPerWrite);
  const partition = checkPartition(options.partition);
  const partial = partition !== undefined && partition.count > 1;
  const { upTo } = options;
  const after = await readModel.getCheckpoint();

  /** The visitors folded since the cache was last emptied, by stream; null for a stream that is not a visitor's. */
  const cache = new Map<string, Visitor | null>();
  /** Whether a visitor missing from the cache may have a stored profile to fold on from. */
  let mayBeStored = after !== undefined;
  const dirty = new Set<Visitor>();
  let events = 0;
  let facts = 0;
  let sinceSave = 0;
  let savedAt = Date.now();
  let last: Position | undefined;
  let saved: Position | undefined;

  const save = async () => {
    if (last === undefined || last === saved) return;
    const profiles: ProfileDraft[] = [];
    for (const visitor of dirty) profiles.push(visitor.draft!);
    // Every part but the last leaves the checkpoint alone: a crash between parts resumes
    // from the previous save, and the profiles already written skip what they hold.
    let from = 0;
    for (; profiles.length - from > maxPerWrite; from += maxPerWrite) {
      await readModel.saveProfiles(profiles.slice(from, from + maxPerWrite));
      await pause(WRITE_PAUSE_MS);
    }
    await readModel.saveProfiles(from === 0 ? profiles : profiles.slice(from), partial ? undefined : last);
    dirty.clear();
    saved = last;
    sinceSave = 0;
    savedAt = Date.now();
    if (cache.size >= maxCached) {
      cache.clear();
      mayBeStored = true;
    }
  };

  /** Loads the stored profiles of the page's visitors that are not in the cache yet. */
  const admit = async (page: readonly LoggedEvent[]) => {
    const toLoad: Visitor[] = [];
    for (const { stream } of page) {
      if (cache.has(stream)) continue;
      const visitor = visitorOf(stream);
      cache.set(stream, visitor);
      if (visitor) toLoad.push(visitor);
    }
    if (toLoad.length === 0) return;
    const stored = await readModel.loadProfiles(toLoad.map((visitor) => visitor.key));
    // Ours to fold in place from here on, whatever the adapter keeps.
    toLoad.forEach((visitor, i) => (visitor.draft = stored[i] && draftOf(stored[i])));
  };

  const readPage = Math.min(READ_PAGE, pageSize ?? READ_PAGE);
  for await (const whole of store.readAllPages({ after, streamPrefix: VISITOR_STREAM_PREFIX, pageSize: readPage, partition })) {
    const page = upTo === undefined ? whole : upToPosition(whole, upTo);
    if (page.length === 0) break;
    // Folding from the start of the log into a read model that has not been saved to: nothing stored to load.
    if (mayBeStored) await admit(page);
    for (const event of page) {
      let visitor = cache.get(event.stream);
      if (visitor === undefined) cache.set(event.stream, (visitor = visitorOf(event.stream)));
      const fact = visitor && visitorFact(visitor.key, event);
      if (fact) {
        visitor!.draft = foldInto(visitor!.draft, fact);
        dirty.add(visitor!);
        facts += 1;
      }
    }
    last = page[page.length - 1].position;
    events += page.length;
    sinceSave += page.length;
    const due = pageSize === undefined ? Date.now() - savedAt >= saveEveryMs : sinceSave >= pageSize;
    if (due || cache.size >= maxCached) await save();
    options.onProgress?.({ events, position: last, saved });
    if (options.signal?.aborted || page !== whole) break;
  }
  await save();
  return { events, facts, position: saved };
}

/** The events of `page` at or before `upTo`: the page itself when they all are. */
function upToPosition(page: readonly LoggedEvent[], upTo: Position): readonly LoggedEvent[] {
  if (comparePositions(page[page.length - 1].position, upTo) <= 0) return page;
  return page.filter((event) => comparePositions(event.position, upTo) <= 0);
}

function visitorOf(stream: string): Visitor | null {
  const key = parseVisitorStream(stream);
  return key ? { key, draft: undefined } : null;
}

interface Visitor {
  readonly key: VisitorKey;
  /** What has been folded of its stream: loaded, then written in place. */
  draft: ProfileDraft | undefined;
}

/** Between two parts of a save: long enough for another connection waiting on the write lock to take it. */
const WRITE_PAUSE_MS = 10;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
