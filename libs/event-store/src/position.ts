/**
 * A place in the global log. EventStoreDB addresses `$all` with a commit and a
 * prepare position; the SQLite store has one integer and uses it for both.
 */
export interface Position {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: Position = Object.freeze({ commit: -1n, prepare: -1n });

export function position(commit: bigint, prepare: bigint = commit): Position {
  return { commit, prepare };
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** Whether `p` lies past the last event of a log whose head is `head` (undefined: an empty log). */
export function isPastHead(p: Position, head: Position | undefined): boolean {
  return head === undefined || comparePositions(p, head) > 0;
}

/** `"42"` when both parts agree (always, on SQLite), else `"42/41"`. */
export function formatPosition(p: Position): string {
  return p.commit === p.prepare ? `${p.commit}` : `${p.commit}/${p.prepare}`;
}

const POSITION_TEXT = /^(\d{1,20})(?:\/(\d{1,20}))?$/;

export function parsePosition(text: string): Position | undefined {
  const m = POSITION_TEXT.exec(text);
  if (!m) return undefined;
  const commit = BigInt(m[1]);
  return position(commit, m[2] === undefined ? commit : BigInt(m[2]));
}
