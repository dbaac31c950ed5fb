/**
 * Whether the query string of `url` is valid percent-encoded UTF-8. The
 * query parser keeps a broken escape (%FF, %G1) as it was sent, so that
 * `userId=%FF` would name a visitor literally called "%FF", where the same
 * escape in a path is refused: the routes that read the query refuse it too.
 */
export function isPercentEncodedUtf8Query(url: string): boolean {
  const at = url.indexOf('?');
  if (at < 0) return true;
  try {
    decodeURIComponent(url.slice(at + 1));
    return true;
  } catch {
    return false;
  }
}

export const QUERY_NOT_PERCENT_ENCODED = 'the query string is not valid percent-encoded UTF-8: encode each value with encodeURIComponent';
