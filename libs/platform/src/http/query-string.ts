/**
 * The string values of the parameters `names` in a parsed query, and what is
 * wrong with the query whatever the route: a query string that is not valid
 * percent-encoded UTF-8, a parameter not among `names`, one given more than
 * once. The route adds its own checks of the values.
 */
export function readQuery<K extends string>(
  query: Record<string, unknown>,
  names: readonly K[],
  url: string,
): { values: Partial<Record<K, string>>; problems: string[] } {
  const known: readonly string[] = names;
  const problems = Object.keys(query)
    .filter((key) => !known.includes(key))
    .map((key) => `query parameter ${key} is not supported`);
  if (!isPercentEncodedUtf8Query(url)) problems.unshift('the query string is not valid percent-encoded UTF-8: encode each value with encodeURIComponent');
  const values: Partial<Record<K, string>> = {};
  for (const name of names) {
    const value = query[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') problems.push(`${name} must be given once`);
    else values[name] = value;
  }
  return { values, problems };
}

/**
 * Whether the query string of `url` is valid percent-encoded UTF-8. The
 * query parser keeps a broken escape (%FF, %G1) as it was sent, so that
 * `userId=%FF` would name a visitor literally called "%FF", where the same
 * escape in a path is refused: the routes that read the query refuse it too.
 */
function isPercentEncodedUtf8Query(url: string): boolean {
  const at = url.indexOf('?');
  if (at < 0) return true;
  try {
    decodeURIComponent(url.slice(at + 1));
    return true;
  } catch {
    return false;
  }
}
