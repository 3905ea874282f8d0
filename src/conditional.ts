// Entity-tag comparisons of RFC 9110 §13.1.
import { ApiError } from './errors.ts'

function parseTags(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
}

const strong = (tag: string) => (tag.startsWith('W/') ? undefined : tag)
const opaque = (tag: string) => (tag.startsWith('W/') ? tag.slice(2) : tag)

/**
 * If-Match uses strong comparison; `*` matches any current representation. `*` is the whole
 * field or nothing (RFC 9110 §13.1.1: `"*" / #entity-tag`): in a list of tags it is no tag,
 * so `"v1", *` holds only when "v1" is current.
 */
export function ifMatchSatisfied(header: string, etag: string): boolean {
  if (isStar(header)) return true
  return parseTags(header).some((t) => strong(t) === etag && !etag.startsWith('W/'))
}

/**
 * For a change to a resource that has no ETag (a webhook, an API token). RFC 9110 §13.1 has the
 * server evaluate conditional headers rather than ignore them: an If-Match naming a tag cannot
 * match (`*` alone, any current representation, holds), and an If-None-Match of `*` alone fails
 * on any current representation (a list of tags holds, matching nothing). A condition that fails
 * is 412 once `find` has found the resource (or thrown its 404, which comes first).
 */
export async function refuseConditionsWithoutEtag(
  headers: { 'if-match'?: string | undefined; 'if-none-match'?: string | undefined },
  find: () => Promise<unknown>,
): Promise<void> {
  const ifMatch = headers['if-match']
  const ifNoneMatch = headers['if-none-match']
  const matchFails = ifMatch !== undefined && !isStar(ifMatch)
  const noneMatchFails = ifNoneMatch !== undefined && isStar(ifNoneMatch)
  if (!matchFails && !noneMatchFails) return
  await find()
  throw new ApiError(
    'PRECONDITION_FAILED',
    matchFails
      ? 'This resource has no ETag: If-Match can only be *'
      : 'If-None-Match: * fails: the resource exists',
  )
}

/** A conditional header that is `*` alone. */
function isStar(header: string): boolean {
  const tags = parseTags(header)
  return tags.length === 1 && tags[0] === '*'
}

/**
 * If-None-Match uses weak comparison; true means the condition fails: "not modified" for a
 * read (304), 412 for a change (RFC 9110 §13.1.2). `*` alone hits any current representation.
 */
export function ifNoneMatchHits(header: string, etag: string): boolean {
  if (isStar(header)) return true
  return parseTags(header).some((t) => opaque(t) === opaque(etag))
}
