// Entity-tag comparisons of RFC 9110 §13.1, as pure functions.

function parseTags(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
}

const strong = (tag: string) => (tag.startsWith('W/') ? undefined : tag)
const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag)

/** If-Match uses strong comparison; `*` matches any current representation. */
export function ifMatchSatisfied(header: string, etag: string): boolean {
  const tags = parseTags(header)
  return tags.includes('*') || tags.some((t) => strong(t) === etag && !etag.startsWith('W/'))
}

/** If-None-Match uses weak comparison; true means "not modified". */
export function ifNoneMatchHits(header: string, etag: string): boolean {
  const tags = parseTags(header)
  return tags.includes('*') || tags.some((t) => opaque(t) === opaque(etag))
}
