import { Position, comparePositions } from '../position';

/** What `pagesOf` needs of a Node readable stream in object mode. */
export interface BufferedSource<T> extends AsyncIterable<T> {
  /** Items already received and not yet read. */
  readonly readableLength: number;
}

/**
 * Groups what a readable stream delivers into pages: a page is handed on as
 * soon as nothing more is buffered, or once it holds `maxPage` items. While
 * items arrive faster than the consumer applies pages, pages grow and each
 * costs one write; when they trickle in, each goes out on its own without
 * waiting. Items that `map` turns into `undefined` are dropped.
 *
 * The stream is consumed with `for await`, so a consumer that is still busy
 * with a page holds the stream back instead of letting it buffer without end.
 */
export async function* pagesOf<T, R>(
  source: BufferedSource<T>,
  map: (item: T) => R | undefined,
  maxPage: number,
): AsyncGenerator<R[]> {
  let page: R[] = [];
  for await (const item of source) {
    const mapped = map(item);
    if (mapped !== undefined) page.push(mapped);
    if (page.length > 0 && (page.length >= maxPage || source.readableLength === 0)) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/**
 * The events of the log after `after` (from its start when undefined) up to
 * `head`, read forwards at most `pageSize` at a time with `read(from, count)`,
 * which answers up to `count` events from `from` on, the event at `from`
 * included (as EventStoreDB reads `$all`), or from the start. Each page is
 * what one read gave past `after`, so none holds more than `pageSize`; pages
 * may be empty only if the log is.
 */
export async function* pagesUpTo<E extends { readonly position: Position }>(
  read: (from: Position | undefined, count: number) => Promise<readonly E[]>,
  head: Position,
  after: Position | undefined,
  pageSize: number,
): AsyncGenerator<E[]> {
  for (;;) {
    // The event at `after` comes first and is dropped: one more is asked for, or a page of one
    // would read that event alone again and again.
    const given = await read(after, after === undefined ? pageSize : pageSize + 1);
    const page: E[] = [];
    let atHead = false;
    for (const event of given) {
      if (after !== undefined && comparePositions(event.position, after) <= 0) continue;
      if (page.length === pageSize) break;
      if (comparePositions(event.position, head) > 0) {
        atHead = true;
        break;
      }
      page.push(event);
    }
    if (page.length > 0) yield page;
    // Fewer than a page past `after`: the end of the log.
    if (atHead || page.length < pageSize) return;
    const last = page[page.length - 1].position;
    if (comparePositions(last, head) >= 0) return;
    after = last;
  }
}
