import { Progress } from './progress';

function terminal(): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY: true, write: (text: string) => lines.push(text) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

describe('Progress', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('gives the time left from the pace of this run, also when it resumed part-way', () => {
    const { stream, lines } = terminal();
    const progress = new Progress('rebuild', stream);
    progress.update(0, 0.5);
    jest.setSystemTime(1_000_000 + 10_000);
    progress.update(1000, 0.6);
    // 10 % in 10 s, 40 % to go: 40 s, not the 7 s that counting the first half as done in this run would say.
    expect(lines[lines.length - 1]).toContain('60.0% 1,000 events, 100/s, ETA 40s');
  });

  it('draws nothing when the data goes to the same terminal, where it would land between lines of data', () => {
    const { stream, lines } = terminal();
    const progress = new Progress('replay', stream, { isTTY: true } as unknown as NodeJS.WriteStream);
    progress.update(10, 0.5);
    progress.done();
    expect(lines).toEqual([]);
    const piped = terminal();
    new Progress('replay', piped.stream, { isTTY: false } as unknown as NodeJS.WriteStream).update(10, 0.5);
    expect(piped.lines).toHaveLength(1);
  });

  it('draws nothing when the stream is not a terminal', () => {
    const lines: string[] = [];
    const progress = new Progress('replay', { isTTY: false, write: (text: string) => lines.push(text) > 0 } as unknown as NodeJS.WriteStream);
    progress.update(10, 0.5);
    progress.done();
    expect(lines).toEqual([]);
  });
});
