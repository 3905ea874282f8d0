// The bench's HTTP calls outside the load: a small fetch wrapper, the bench
// user's access token, kept fresh for runs longer than a token lives, and the
// PATCH scenario's pool of own tasks.
import { BENCH_PASSWORD } from './data.ts'
import type { Fixtures } from './scenarios.ts'

export async function api(base: string, path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers)
  if (init.token) headers.set('authorization', `Bearer ${init.token}`)
  if (init.body) headers.set('content-type', 'application/json')
  const res = await fetch(`${base}${path}`, { ...init, headers })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

/** Seconds a token must outlive the run it is for: the run's end is later than its duration. */
const MARGIN_SECONDS = 60

/**
 * The bench user's access token for a run of `seconds`: logged in through the API, and again
 * whenever the token would expire before that run ends. One login per scenario was not enough:
 * the list's three jobs alternate for three times `--duration` (up to 600 s each), past the
 * token's 15 minutes, and its last slices were answered with 401s.
 */
export function benchSession(base: string, email: string): (seconds: number) => Promise<string> {
  let token: string | undefined
  let expiresAtMs = 0
  return async (seconds) => {
    if (token === undefined || Date.now() + (seconds + MARGIN_SECONDS) * 1000 >= expiresAtMs) {
      const res = await api(base, '/v1/auth/login', {
        method: 'POST',
        body: JSON.stringify({ email, password: BENCH_PASSWORD }),
      })
      if (res.status !== 200)
        throw new Error(`login through the API failed: ${res.status} ${JSON.stringify(res.json)}`)
      token = res.json.accessToken as string
      expiresAtMs = Date.now() + (res.json.expiresIn as number) * 1000
    }
    return token
  }
}

/**
 * Tops the PATCH pool up to `size` with own tasks it never held, each read for its current ETag;
 * creates own tasks when the bench user has too few. Tasks still in the pool keep their ETags
 * (each is the answer to the task's last PATCH). A task that left the pool is not read again: a
 * PATCH still in flight when the last load stopped may commit after that read, and the next
 * load would start with a stale ETag, a 412 of the harness's own making.
 */
export async function topUpPatchPool(
  base: string,
  token: string,
  ownIds: string[],
  f: Fixtures,
  size: number,
): Promise<void> {
  const fresh = ownIds.filter((id) => !f.patchPooled.has(id))
  while (f.patchPool.length < size) {
    let id = fresh.shift()
    if (id === undefined) {
      const res = await api(base, '/v1/tasks', {
        method: 'POST',
        token,
        body: JSON.stringify({ title: 'Bench own task' }),
      })
      if (res.status !== 201) throw new Error(`creating own tasks failed: ${res.status}`)
      id = res.json.id as string
      ownIds.push(id)
    }
    f.patchPooled.add(id)
    const res = await api(base, `/v1/tasks/${id}`, { token })
    const etag = res.headers.get('etag')
    if (res.status !== 200 || !etag) throw new Error(`reading own task ${id} failed: ${res.status}`)
    f.patchPool.push({ id, etag })
  }
  f.patchSpareId ??= f.patchPool[0]?.id
}
