// Checks on a request's header fields as they were sent: Node's parsed headers keep only the
// first of a field it expects once (Host, Authorization), so a repeat shows only in rawHeaders.

/** Whether a header field (its name in lower case) occurs more than once among the raw name/value pairs. */
export function sentTwice(rawHeaders: string[], name: string): boolean {
  let seen = false
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i] as string
    if (field.length !== name.length || field.toLowerCase() !== name) continue
    if (seen) return true
    seen = true
  }
  return false
}
