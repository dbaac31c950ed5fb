import { checkPartition, streamPartition } from './partition';

describe('streamPartition', () => {
  it('is FNV-1a over the UTF-16 code units, modulo the count', () => {
    // Published FNV-1a 32-bit values: "" is the offset basis, "a" and "foobar" the usual test vectors.
    expect(streamPartition('', 2 ** 32)).toBe(0x811c9dc5);
    expect(streamPartition('a', 2 ** 32)).toBe(0xe40c292c);
    expect(streamPartition('foobar', 2 ** 32)).toBe(0xbf9cf968);
    expect(streamPartition('foobar', 7)).toBe(0xbf9cf968 % 7);
    expect(streamPartition('anything', 1)).toBe(0);
  });

  it('spreads names that share their start and end evenly', () => {
    for (const count of [2, 3, 4]) {
      const sizes = new Array<number>(count).fill(0);
      for (let i = 0; i < 10_000; i++) sizes[streamPartition(`visitor-production-customer${i}@example.com`, count)] += 1;
      for (const size of sizes) expect(Math.abs(size - 10_000 / count)).toBeLessThan((10_000 / count) * 0.05);
    }
  });

  it('accepts only a share of a whole', () => {
    expect(checkPartition(undefined)).toBeUndefined();
    expect(checkPartition({ index: 1, count: 2 })).toEqual({ index: 1, count: 2 });
    for (const bad of [{ index: 2, count: 2 }, { index: -1, count: 2 }, { index: 0, count: 0 }, { index: 0, count: 1.5 }, { index: NaN, count: 2 }]) {
      expect(() => checkPartition(bad)).toThrow(RangeError);
    }
  });
});
