import { PassThrough } from 'node:stream';
import { Position, position } from '../position';
import { pagesOf, pagesUpTo } from './pages';

/** A Node object stream, as the EventStoreDB subscription is one. */
function objectStream(): PassThrough {
  return new PassThrough({ objectMode: true, highWaterMark: 1000 });
}

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const page of pages) out.push(page);
  return out;
}

describe('pagesOf', () => {
  it('hands on what has arrived as soon as the stream goes quiet', async () => {
    const source = objectStream();
    const pages = collect(pagesOf(source, (n: number) => n, 100));
    source.write(1);
    source.write(2);
    source.write(3);
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.write(4);
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.write(5);
    source.write(6);
    source.end();
    expect(await pages).toEqual([[1, 2, 3], [4], [5, 6]]);
  });

  it('never lets a page grow beyond its maximum', async () => {
    const source = objectStream();
    for (let i = 0; i < 10; i++) source.write(i);
    source.end();
    expect(await collect(pagesOf(source, (n: number) => n, 4))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });

  it('drops what the mapping turns into undefined and yields no empty page', async () => {
    const source = objectStream();
    for (let i = 0; i < 6; i++) source.write(i);
    source.end();
    const odd = (n: number) => (n % 2 === 1 ? `#${n}` : undefined);
    expect(await collect(pagesOf(source, odd, 100))).toEqual([['#1', '#3', '#5']]);
  });

  it('passes on the stream failing, after the pages before it', async () => {
    const source = objectStream();
    const seen: number[][] = [];
    const following = (async () => {
      for await (const page of pagesOf(source, (n: number) => n, 100)) seen.push(page);
    })();
    source.write(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    source.destroy(new Error('connection reset'));
    await expect(following).rejects.toThrow('connection reset');
    expect(seen).toEqual([[1]]);
  });

  it('holds the stream back while the consumer is busy with a page', async () => {
    const source = new PassThrough({ objectMode: true, highWaterMark: 2 });
    const pages = pagesOf(source, (n: number) => n, 100);
    source.write(0);
    const first = await pages.next();
    expect(first.value).toEqual([0]);
    // The consumer has not asked for the next page: what arrives now waits in the stream.
    const accepted = [1, 2, 3, 4, 5].map((n) => source.write(n));
    expect(accepted).toContain(false);
    source.end();
    const rest: number[] = [];
    for await (const page of { [Symbol.asyncIterator]: () => pages }) rest.push(...page);
    expect(rest).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('pagesUpTo', () => {
  /**
   * A log of events at positions 10, 20, 30…, read as EventStoreDB reads `$all`
   * forwards: from the event at `from` (included; from the next one when no
   * event is there), or from the start. Counts the reads.
   */
  function log(count: number) {
    const events = Array.from({ length: count }, (_, i) => ({ position: position(BigInt(10 * (i + 1))) }));
    const reads: Array<[Position | undefined, number]> = [];
    const read = async (from: Position | undefined, n: number) => {
      reads.push([from, n]);
      const start = from === undefined ? 0 : events.findIndex((e) => e.position.commit >= from.commit);
      return start < 0 ? [] : events.slice(start, start + n);
    };
    return { events, reads, read };
  }
  const at = (commit: number) => position(BigInt(commit));
  const commits = (pages: Array<Array<{ position: Position }>>) => pages.map((page) => page.map((e) => Number(e.position.commit)));

  it.each([1, 2, 3, 7, 100])('gives every event after `after` up to the head once, in pages of at most %i', async (pageSize) => {
    const { read } = log(7);
    const pages = await collect(pagesUpTo(read, at(70), undefined, pageSize));
    expect(pages.flat().map((e) => Number(e.position.commit))).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(pages.every((page) => page.length > 0 && page.length <= pageSize)).toBe(true);
    const after = await collect(pagesUpTo(read, at(70), at(30), pageSize));
    expect(after.flat().map((e) => Number(e.position.commit))).toEqual([40, 50, 60, 70]);
  });

  it('ends after a page of one event each time, though every read from an event gives that event first', async () => {
    const { read, reads } = log(3);
    expect(commits(await collect(pagesUpTo(read, at(30), at(10), 1)))).toEqual([[20], [30]]);
    expect(reads).toEqual([
      [at(10), 2],
      [at(20), 2],
    ]);
  });

  it('stops at the head though the log has grown past it', async () => {
    const { read } = log(9);
    expect(commits(await collect(pagesUpTo(read, at(50), undefined, 2)))).toEqual([[10, 20], [30, 40], [50]]);
  });

  it('keeps pages to their size when `after` is not an event’s position', async () => {
    const { read } = log(6);
    expect(commits(await collect(pagesUpTo(read, at(60), at(15), 2)))).toEqual([[20, 30], [40, 50], [60]]);
  });

  it('gives nothing for an empty log or one read up to its head', async () => {
    expect(await collect(pagesUpTo(log(0).read, at(0), undefined, 5))).toEqual([]);
    expect(await collect(pagesUpTo(log(4).read, at(40), at(40), 5))).toEqual([]);
  });
});
