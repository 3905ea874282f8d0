// The bench's HTTP calls outside the load: a small fetch wrapper, and the bench
// user's access token, kept fresh for runs longer than a token lives.
import { BENCH_PASSWORD } from './data.ts'

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
