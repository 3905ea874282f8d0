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
  const tags = parseTags(header)
  if (tags.length === 1 && tags[0] === '*') return true
  return tags.some((t) => strong(t) === etag && !etag.startsWith('W/'))
}

/**
 * For a change to a resource that has no ETag (a webhook, an API token): an If-Match naming a
 * tag cannot match, and RFC 9110 §13.1.1 has the server evaluate it rather than ignore it, so
 * once `find` has found the resource (or thrown its 404, which comes first) it is 412. `*`
 * (any current representation) holds.
 */
export async function refuseIfMatchWithoutEtag(
  header: string | undefined,
  find: () => Promise<unknown>,
): Promise<void> {
  if (header === undefined || header.trim() === '*') return
  await find()
  throw new ApiError('PRECONDITION_FAILED', 'This resource has no ETag: If-Match can only be *')
}

/**
 * If-None-Match uses weak comparison; true means the condition fails: "not modified" for a
 * read (304), 412 for a change (RFC 9110 §13.1.2). `*` alone hits any current representation.
 */
export function ifNoneMatchHits(header: string, etag: string): boolean {
  const tags = parseTags(header)
  if (tags.length === 1 && tags[0] === '*') return true
  return tags.some((t) => opaque(t) === opaque(etag))
}
