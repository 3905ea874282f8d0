// Realistic, reproducible bench data: users and tasks with believable titles,
// descriptions, tags, statuses, priorities and due dates, from a seeded PRNG so
// every run (and both engines) sees the same shape.
import { v7 as uuidv7 } from 'uuid'

/** mulberry32: tiny, fast, good enough to spread synthetic data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const VERBS = [
  'Fix',
  'Write',
  'Review',
  'Update',
  'Refactor',
  'Deploy',
  'Investigate',
  'Document',
  'Plan',
  'Test',
  'Migrate',
  'Design',
  'Prepare',
  'Schedule',
  'Clean up',
  'Draft',
  'Benchmark',
  'Audit',
  'Automate',
  'Archive',
]
const OBJECTS = [
  'login redirect',
  'invoice export',
  'quarterly report',
  'onboarding checklist',
  'search results page',
  'payment webhook',
  'password reset email',
  'release notes',
  'database backup',
  'mobile navigation',
  'customer feedback survey',
  'API rate limits',
  'dashboard charts',
  'CSV import',
  'team offsite agenda',
  'pricing page copy',
  'error monitoring alerts',
  'dependency upgrades',
  'user permissions',
  'budget forecast',
  'landing page hero',
  'support macros',
  'accessibility issues',
  'build pipeline',
  'security review',
  'holiday calendar',
  'vendor contract',
  'sprint retrospective',
  'cache invalidation',
  'notification settings',
]
const CONTEXTS = [
  'for the Berlin office',
  'before Friday',
  'on Safari',
  'for enterprise customers',
  'in staging',
  'after the launch',
  'for Q3',
  'with the design team',
  'on Android',
  'for the board meeting',
  '',
  '',
  '',
  '',
]
const SENTENCES = [
  'Customers reported this twice last week.',
  'See the thread in the support inbox for details.',
  'Needs sign-off from finance before we ship it.',
  'The current version times out under load.',
  'Keep the old behaviour behind a flag until everyone has migrated.',
  'Pair with someone from the platform team on this.',
  'Check the analytics dashboard for the conversion numbers.',
  'Blocked until the vendor sends the updated contract.',
  'Write down the decision in the wiki when done.',
  'Make sure the translations are updated as well.',
  'This regressed after the last dependency upgrade.',
  'Low risk, but it touches the billing code path.',
]
export const TAGS = [
  'backend',
  'frontend',
  'bug',
  'feature',
  'docs',
  'ops',
  'security',
  'design',
  'billing',
  'mobile',
  'urgent-fix',
  'tech-debt',
  'customer',
  'q3',
  'q4',
  'research',
  'infra',
  'marketing',
  'legal',
  'hiring',
  'performance',
  'ux',
  'api',
  'release',
  'support',
  'data',
  'finance',
  'qa',
  'i18n',
  'growth',
]
const FIRST = [
  'Ada',
  'Grace',
  'Linus',
  'Margaret',
  'Alan',
  'Barbara',
  'Ken',
  'Radia',
  'Dennis',
  'Frances',
  'Tim',
  'Hedy',
]
const LAST = [
  'Lovelace',
  'Hopper',
  'Torvalds',
  'Hamilton',
  'Turing',
  'Liskov',
  'Thompson',
  'Perlman',
  'Ritchie',
  'Allen',
]

/** Words that occur in titles and descriptions: what the search scenario asks for. */
export const SEARCH_WORDS = [
  'invoice',
  'login',
  'report',
  'webhook',
  'backup',
  'dashboard',
  'vendor',
  'safari',
  'budget',
  'migrate',
]

export const STATUS_VALUES = ['todo', 'doing', 'done'] as const

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)] as T

export interface SeedUser {
  id: string
  email: string
  name: string
  createdAt: string
}

export interface SeedTask {
  id: string
  ownerId: string
  title: string
  description: string
  status: (typeof STATUS_VALUES)[number]
  /** Rank 0–3 as stored (low, normal, high, urgent). */
  priority: number
  dueAt: string | null
  tags: string[]
  createdAt: string
  updatedAt: string
  deletedAt: string | null
  version: number
}

const DAY = 86_400_000
export const BENCH_PASSWORD = 'bench password that is long enough'
export const benchEmail = (i: number) => `bench-user-${i}@example.com`

export function makeUsers(count: number, now: number): SeedUser[] {
  const r = prng(7)
  const users: SeedUser[] = []
  for (let i = 0; i < count; i++) {
    const at = now - 400 * DAY + i * 1000
    users.push({
      id: uuidv7({ msecs: at }),
      email: benchEmail(i),
      name: `${pick(r, FIRST)} ${pick(r, LAST)}`,
      createdAt: new Date(at).toISOString(),
    })
  }
  return users
}

/**
 * Generates tasks in creation order (ids are UUIDv7 of their creation time),
 * spread over the past year. User 0 is the bench user and owns a larger share,
 * so the write scenarios have enough of its own tasks to change.
 */
export function* makeTasks(count: number, users: SeedUser[], now: number): Generator<SeedTask> {
  const r = prng(42)
  const start = now - 365 * DAY
  const step = (365 * DAY) / count
  for (let i = 0; i < count; i++) {
    const created = Math.floor(start + i * step + r() * step * 0.5)
    const ownerIndex = r() < 0.01 ? 0 : Math.floor(r() * users.length)
    const statusRoll = r()
    const status = statusRoll < 0.5 ? 'todo' : statusRoll < 0.7 ? 'doing' : 'done'
    const pRoll = r()
    const priority = pRoll < 0.2 ? 0 : pRoll < 0.7 ? 1 : pRoll < 0.9 ? 2 : 3
    const due = r() < 0.6 ? new Date(created + Math.floor((r() * 120 - 20) * DAY)).toISOString() : null
    const tagCount = Math.floor(r() * 4)
    const tags: string[] = []
    for (let t = 0; t < tagCount; t++) {
      const tag = pick(r, TAGS)
      if (!tags.includes(tag)) tags.push(tag)
    }
    const sentences = Math.floor(r() * 4)
    const description = Array.from({ length: sentences }, () => pick(r, SENTENCES)).join(' ')
    const context = pick(r, CONTEXTS)
    const title = `${pick(r, VERBS)} ${pick(r, OBJECTS)}${context ? ` ${context}` : ''}`
    const version = 1 + Math.floor(r() * r() * 4)
    const updated = version > 1 ? Math.min(now, created + Math.floor(r() * 20 * DAY)) : created
    // A few soft-deleted tasks (0.5%), deleted recently so the purge job leaves them alone.
    const deleted = r() < 0.005 ? new Date(now - Math.floor(r() * 5 * DAY)).toISOString() : null
    yield {
      id: uuidv7({ msecs: created }),
      ownerId: (users[ownerIndex] as SeedUser).id,
      title,
      description,
      status,
      priority,
      dueAt: due,
      tags,
      createdAt: new Date(created).toISOString(),
      updatedAt: deleted ?? new Date(updated).toISOString(),
      deletedAt: deleted,
      version,
    }
  }
}
