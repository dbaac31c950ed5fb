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
