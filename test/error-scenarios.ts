// The table of API.md §1 error scenarios (PocketBase's ApiScenario style) run by errors.test.ts.
// Requests are built lazily, so they read the users, tasks and tokens its before() hook made.
import type { InjectOptions } from 'fastify'
import { PASSWORD, type TestUser, uniqueEmail } from './helpers.ts'

export interface Scenario {
  name: string
  app?: 'main' | 'strict'
  request: () => InjectOptions
  status: number
  code: string
  headers?: Record<string, RegExp>
  detailFields?: string[]
}

/** What the scenarios refer to; filled in by the suite's before() hook. */
export interface ScenarioContext {
  user: TestUser
  other: TestUser
  strictUser: TestUser
  taskId: string
  strictTaskId: string
  readOnlyToken: string
  foreignToken: string
  wrongIssuerToken: string
  takenEmail: string
}

export function errorScenarios(c: ScenarioContext): Scenario[] {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  const noneAlg = () =>
    `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: c.user.id, role: 'admin', scope: 'tasks:read tasks:write', exp: 4e9 }),
    ).toString('base64url')}.`

  return [
    {
      name: 'malformed JSON',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json' },
        payload: '{"title": "x",',
      }),
      status: 400,
      code: 'MALFORMED_JSON',
    },
    {
      name: 'malformed JSON on register (public route)',
      request: () => ({
        method: 'POST',
        url: '/v1/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: 'nope',
      }),
      status: 400,
      code: 'MALFORMED_JSON',
    },
    {
      name: 'prototype pollution through __proto__',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json' },
        payload: '{"title": "x", "nested": {"__proto__": {"admin": true}}}',
      }),
      // Valid JSON with a key no body has: refused as an unknown field is, naming where it is.
      status: 422,
      code: 'VALIDATION_FAILED',
      detailFields: ['nested.__proto__'],
    },
    {
      name: 'prototype pollution through constructor.prototype',
      request: () => ({
        method: 'PATCH',
        url: `/v1/tasks/${c.taskId}`,
        headers: { ...c.user.auth, 'content-type': 'application/merge-patch+json' },
        payload: '{"title": "x", "constructor": {"prototype": {"admin": true}}}',
      }),
      status: 422,
      code: 'VALIDATION_FAILED',
      detailFields: ['constructor'],
    },
    {
      // Deep enough to overflow a recursive walk of the body (it was a 500), far under the body limit.
      name: 'a body nesting 100,000 arrays (public route)',
      request: () => ({
        method: 'POST',
        url: '/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      }),
      status: 422,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'a field nesting 100,000 arrays, an unpaired surrogate at the bottom',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json' },
        payload: `{"title": "x", "tags": ${'['.repeat(100_000)}"\\ud800"${']'.repeat(100_000)}}`,
      }),
      status: 422,
      code: 'VALIDATION_FAILED',
      detailFields: ['tags.0', `tags${'.0'.repeat(100_000)}`],
    },
    {
      name: 'a body that is not UTF-8 (Latin-1 é)',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json' },
        payload: Buffer.from('{"title": "caf\u00e9"}', 'latin1'),
      }),
      status: 400,
      code: 'MALFORMED_JSON',
    },
    {
      name: 'a body in a Content-Encoding the server does not decode',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json', 'content-encoding': 'snappy' },
        payload: '{"title": "x"}',
      }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'a body that is not in its Content-Encoding',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
        payload: '{"title": "x"}',
      }),
      status: 400,
      code: 'MALFORMED_JSON',
    },
    {
      name: 'JSON declared in a charset other than UTF-8',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json; charset=iso-8859-1' },
        payload: '{"title": "x"}',
      }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'no credentials',
      request: () => ({ method: 'GET', url: '/v1/tasks' }),
      status: 401,
      code: 'UNAUTHENTICATED',
      headers: { 'www-authenticate': /^Bearer/ },
    },
    {
      name: 'garbage token',
      request: () => ({ method: 'GET', url: '/v1/tasks', headers: bearer('not.a.jwt') }),
      status: 401,
      code: 'INVALID_TOKEN',
      headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
    },
    {
      name: 'token signed by another key',
      request: () => ({ method: 'GET', url: '/v1/tasks', headers: bearer(c.foreignToken) }),
      status: 401,
      code: 'INVALID_TOKEN',
      headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
    },
    {
      name: 'token from another issuer',
      request: () => ({ method: 'GET', url: '/v1/me', headers: bearer(c.wrongIssuerToken) }),
      status: 401,
      code: 'INVALID_TOKEN',
      headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
    },
    {
      name: 'alg none token',
      request: () => ({ method: 'GET', url: '/v1/tasks', headers: bearer(noneAlg()) }),
      status: 401,
      code: 'INVALID_TOKEN',
      headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
    },
    {
      name: 'Authorization that is not Bearer',
      request: () => ({
        method: 'GET',
        url: '/v1/tasks',
        headers: { authorization: 'Basic dXNlcjpwYXNz' },
      }),
      status: 401,
      code: 'INVALID_TOKEN',
    },
    {
      name: 'login with a wrong password',
      request: () => ({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: c.takenEmail, password: 'wrong password here' },
      }),
      status: 401,
      code: 'INVALID_CREDENTIALS',
    },
    {
      name: 'login with an unknown email',
      request: () => ({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: uniqueEmail('nobody'), password: PASSWORD },
      }),
      status: 401,
      code: 'INVALID_CREDENTIALS',
    },
    {
      name: 'changing a task of someone else',
      request: () => ({
        method: 'PATCH',
        url: `/v1/tasks/${c.taskId}`,
        headers: c.other.auth,
        payload: { title: 'x' },
      }),
      status: 403,
      code: 'FORBIDDEN',
    },
    {
      name: 'writing with a read-only token',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: bearer(c.readOnlyToken),
        payload: { title: 'x' },
      }),
      status: 403,
      code: 'INSUFFICIENT_SCOPE',
      headers: { 'www-authenticate': /insufficient_scope/ },
    },
    {
      name: 'deleting with a read-only token',
      request: () => ({ method: 'DELETE', url: `/v1/tasks/${c.taskId}`, headers: bearer(c.readOnlyToken) }),
      status: 403,
      code: 'INSUFFICIENT_SCOPE',
    },
    {
      name: 'unknown route',
      request: () => ({ method: 'GET', url: '/v1/nothing-here' }),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'unknown route with a token',
      request: () => ({ method: 'GET', url: '/v2/tasks', headers: c.user.auth }),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'unknown task id',
      request: () => ({
        method: 'GET',
        url: '/v1/tasks/0193a000-0000-7000-8000-000000000000',
        headers: c.user.auth,
      }),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'malformed task id',
      request: () => ({ method: 'GET', url: '/v1/tasks/42', headers: c.user.auth }),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'known path, c.other method',
      request: () => ({ method: 'PUT', url: '/v1/tasks', headers: c.user.auth, payload: {} }),
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      headers: { allow: /^(?=.*\bGET\b)(?=.*\bPOST\b)(?!.*\bPUT\b)/ },
    },
    {
      name: 'known task path, c.other method',
      request: () => ({ method: 'PUT', url: `/v1/tasks/${c.taskId}`, headers: c.user.auth, payload: {} }),
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      headers: { allow: /^(?=.*\bGET\b)(?=.*\bPATCH\b)(?=.*\bDELETE\b)/ },
    },
    {
      name: 'Accept excluding JSON',
      request: () => ({ method: 'GET', url: '/v1/tasks', headers: { ...c.user.auth, accept: 'text/html' } }),
      status: 406,
      code: 'NOT_ACCEPTABLE',
    },
    {
      name: 'taken email',
      request: () => ({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { email: ` ${c.takenEmail.toUpperCase()} `, password: PASSWORD, name: 'Again' },
      }),
      status: 409,
      code: 'EMAIL_TAKEN',
    },
    {
      name: 'stale If-Match',
      request: () => ({
        method: 'PATCH',
        url: `/v1/tasks/${c.taskId}`,
        headers: { ...c.user.auth, 'if-match': '"v999"' },
        payload: { title: 'x' },
      }),
      status: 412,
      code: 'PRECONDITION_FAILED',
    },
    {
      name: 'body over BODY_LIMIT_BYTES',
      app: 'strict',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: c.strictUser.auth,
        payload: { title: 'x', description: 'y'.repeat(2000) },
      }),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      name: 'body that is not JSON',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'text/plain' },
        payload: 'title=x',
      }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'form-encoded body',
      request: () => ({
        method: 'POST',
        url: '/v1/auth/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'email=a&password=b',
      }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'unknown and read-only fields, every problem listed',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: c.user.auth,
        payload: { title: '', colour: 'red', ownerId: c.other.id, createdAt: 'now' },
      }),
      status: 422,
      code: 'VALIDATION_FAILED',
      detailFields: ['colour', 'createdAt', 'ownerId', 'title'],
    },
    {
      name: 'missing body on create',
      request: () => ({ method: 'POST', url: '/v1/tasks', headers: c.user.auth }),
      status: 422,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'JSON that is not an object',
      request: () => ({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...c.user.auth, 'content-type': 'application/json' },
        payload: '[1,2]',
      }),
      status: 422,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'register with every field wrong',
      request: () => ({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { email: 'not-an-email', password: PASSWORD, name: '   ' },
      }),
      status: 422,
      code: 'VALIDATION_FAILED',
      detailFields: ['email', 'name'],
    },
    {
      name: 'bad query parameters',
      request: () => ({ method: 'GET', url: '/v1/tasks?limit=-1&status=open', headers: c.user.auth }),
      status: 422,
      code: 'VALIDATION_FAILED',
      detailFields: ['limit', 'status'],
    },
    {
      name: 'PATCH without If-Match where it is required',
      app: 'strict',
      request: () => ({
        method: 'PATCH',
        url: `/v1/tasks/${c.strictTaskId}`,
        headers: c.strictUser.auth,
        payload: { title: 'x' },
      }),
      status: 428,
      code: 'PRECONDITION_REQUIRED',
    },
  ]
}
