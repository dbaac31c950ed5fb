import { PassThrough } from 'node:stream';
import { pagesOf } from './pages';

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
