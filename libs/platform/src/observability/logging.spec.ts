import pino from 'pino';
import { isoTimeByMillisecond } from './logging';

describe('isoTimeByMillisecond', () => {
  afterEach(() => jest.restoreAllMocks());

  it('writes what pino.stdTimeFunctions.isoTime writes, at each millisecond', () => {
    const now = jest.spyOn(Date, 'now');
    for (const at of [Date.UTC(2026, 10, 27, 12, 0, 0, 1), Date.UTC(2026, 10, 27, 12, 0, 0, 2), Date.UTC(2030, 0, 1)]) {
      now.mockReturnValue(at);
      expect(isoTimeByMillisecond()).toBe(`,"time":"${new Date(at).toISOString()}"`);
      expect(isoTimeByMillisecond()).toBe(pino.stdTimeFunctions.isoTime());
    }
  });

  it('gives a line a valid JSON time field', () => {
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    expect(JSON.parse(`{"level":30${isoTimeByMillisecond()}}`)).toEqual({ level: 30, time: '2026-01-02T03:04:05.678Z' });
  });
});
