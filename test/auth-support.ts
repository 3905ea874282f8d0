// Helpers for the authentication suites: admins, API tokens, a second instance on the same database.
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.ts'
import { registerAndLogin, type TestApp, type TestUser } from './helpers.ts'

export async function makeAdmin(app: FastifyInstance, user: TestUser): Promise<void> {
  await app.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', user.id).execute()
}

/** Two users and an admin, registered on `app` at once: the viewers the listing suites compare. */
export async function twoUsersAndAnAdmin(
  app: FastifyInstance,
): Promise<{ me: TestUser; other: TestUser; admin: TestUser }> {
  const [me, other, admin] = await Promise.all([
    registerAndLogin(app),
    registerAndLogin(app),
    registerAndLogin(app),
  ])
  await makeAdmin(app, admin)
  return { me, other, admin }
}

export async function createApiToken(
  app: FastifyInstance,
  user: TestUser,
  body: Record<string, unknown>,
): Promise<{ id: string; token: string; auth: { authorization: string } }> {
  const res = await app.inject({ method: 'POST', url: '/v1/api-tokens', headers: user.auth, payload: body })
  if (res.statusCode !== 201) throw new Error(`api token failed: ${res.statusCode} ${res.body}`)
  const { id, token } = res.json() as { id: string; token: string }
  return { id, token, auth: { authorization: `Bearer ${token}` } }
}

/** Another instance of the same deployment: same database, its own process state. */
export async function secondInstance(first: TestApp): Promise<FastifyInstance> {
  return buildApp(first.config, { backgroundJobs: false })
}

export async function auditActions(app: FastifyInstance): Promise<string[]> {
  const rows = await app.database.db
    .selectFrom('audit_events')
    .select('action')
    .orderBy('at')
    .orderBy('id')
    .execute()
  return rows.map((r) => r.action)
}
