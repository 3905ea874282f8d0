// Task listings: filters, sorts, keyset and offset pages, page.total (counter tables or a
// COUNT over an index) and full-text search, compiled once per shape. Engine-specific SQL
// (full-text search, the indexes a page is steered to) stays in this file.
import { type CompiledQuery, type RawBuilder, sql } from 'kysely'
import {
  type Engine,
  type Executor,
  limitSql,
  offsetSql,
  type ReadNow,
  type ReadValues,
  rowValues,
  type SearchCache,
} from '../db/database.ts'
import type { ListPlan, Position, SortKey, TaskFilter } from './list-query.ts'
import type { Task } from './model.ts'
import { rankOf, TASK_COLUMNS, taskFromValues } from './repository.ts'

/** Who is listing: decides which deleted tasks are visible. */
export interface ListViewer {
  userId: string
  seesAllDeleted: boolean
}

/**
 * The words of a search: letters, digits, _ and combining marks (a decomposed accent, a
 * Devanagari vowel sign belong to their word; splitting there made such words unsearchable).
 */
const SEARCH_WORDS = /[\p{L}\p{N}\p{M}_]+/gu

/** Quotes every word for FTS5 so no input can be read as query syntax; the last word matches as a prefix. */
export function ftsMatchExpression(q: string): string | undefined {
  const words = q.match(SEARCH_WORDS)
  if (!words || words.length === 0) return undefined
  return words.map((w, i) => `"${w.replace(/"/g, '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ')
}

/**
 * PostgreSQL: whether a page of one status in creation order is read through the index on
 * (status, created_at, id), by writing the status as a range and leading the ORDER BY with it.
 * The planner's other choice, walking the index on creation time and dropping other statuses,
 * looks as cheap while the statistics say statuses are spread evenly over time; they are not
 * (new tasks are `todo`, old ones `done`), and after 27,000 creates that autovacuum had not
 * analyzed yet, the first page of `done` read and dropped all of them: 32 ms instead of 1.3 ms
 * (EXPLAIN ANALYZE of the generic plan, bench data). `status = $1` would not do: a column equal
 * to a constant is dropped from the sort order, and the plans stay as they were.
 */
function readsByStatusIndex(engine: Engine, plan: ListPlan): boolean {
  const { filter } = plan
  return (
    engine === 'postgres' &&
    filter.q === undefined &&
    filter.deleted === 'exclude' && // the index only holds live tasks
    filter.statuses?.length === 1 &&
    filter.tag === undefined && // read through the tag index instead (readsByTagIndex)
    filter.ownerId === undefined && // one owner's tasks: their own index is the narrower walk
    plan.sort?.[0]?.field === 'createdAt'
  )
}

/**
 * Whether a page of one tag in creation order is read through the index on task_tags (tag,
 * created_at, task_id) (migration 0006): the tag's tasks come from it newest (or oldest) first and
 * each is joined to its row, so a page reads about a page of rows. An EXISTS probe per task walked
 * in creation order instead read every task since the tag was last used: 38 ms for a tag no task
 * carries at 100k tasks on SQLite, holding the event loop all that time.
 */
function readsByTagIndex(plan: ListPlan): boolean {
  return (
    plan.filter.tag !== undefined &&
    plan.filter.q === undefined &&
    plan.filter.ownerId === undefined && // one owner's tasks: their own index is the narrower walk
    plan.sort?.length === 1 &&
    plan.sort[0]?.field === 'createdAt'
  )
}

function filterConditions(
  filter: TaskFilter,
  viewer: ListViewer,
  how: { statusAsRange?: boolean; tagJoined?: boolean } = {},
): RawBuilder<unknown>[] {
  const c: RawBuilder<unknown>[] = []
  switch (filter.deleted) {
    case 'exclude':
      c.push(sql`tasks.deleted_at IS NULL`)
      break
    case 'include':
      if (!viewer.seesAllDeleted) c.push(sql`(tasks.deleted_at IS NULL OR tasks.owner_id = ${viewer.userId})`)
      break
    case 'only':
      c.push(sql`tasks.deleted_at IS NOT NULL`)
      if (!viewer.seesAllDeleted) c.push(sql`tasks.owner_id = ${viewer.userId}`)
      break
  }
  if (filter.statuses && how.statusAsRange && filter.statuses.length === 1) {
    // Written as literals (a status is one of three words, checked before it gets here): bound,
    // PostgreSQL costs the range as a guess that makes one plan for all statuses look dearer than
    // a plan for each, and plans the statement on every run (see limitSql).
    const status = sql.lit(filter.statuses[0] as string)
    c.push(sql`tasks.status >= ${status} AND tasks.status <= ${status}`)
  } else if (filter.statuses) c.push(sql`tasks.status IN (${sql.join(filter.statuses)})`)
  if (filter.priorities) c.push(sql`tasks.priority IN (${sql.join(filter.priorities.map(rankOf))})`)
  if (filter.ownerId) c.push(sql`tasks.owner_id = ${filter.ownerId}`)
  if (filter.tag && how.tagJoined) c.push(sql`tt.tag = ${filter.tag}`)
  else if (filter.tag)
    c.push(sql`EXISTS (SELECT 1 FROM task_tags tt WHERE tt.task_id = tasks.id AND tt.tag = ${filter.tag})`)
  if (filter.dueBefore) c.push(sql`tasks.due_at < ${filter.dueBefore}`)
  if (filter.dueAfter) c.push(sql`tasks.due_at > ${filter.dueAfter}`)
  return c
}

interface KeyPart {
  expr: RawBuilder<unknown>
  alias: string
  descending: boolean
  nullable: boolean
  /**
   * The task column (in TASK_COLUMNS) that holds this key's value in every row, when the key is
   * a column as it is: the page reads it there, not as a column of its own. Each selected column
   * is a value more per row for the driver to parse (a timestamp, for the default sort).
   */
  column?: number
}

/** Where a task column is in TASK_COLUMNS (and in a page row, after `at`). */
const columnIndex = (column: (typeof TASK_COLUMNS)[number]) => TASK_COLUMNS.indexOf(column)

/** The sort's key parts; `tagRow` reads creation time and id from the joined tag row (readsByTagIndex). */
function keyParts(sort: SortKey[], tagRow = false): KeyPart[] {
  const parts: KeyPart[] = []
  for (const key of sort) {
    switch (key.field) {
      case 'createdAt':
        parts.push({
          expr: tagRow ? sql`tt.created_at` : sql`tasks.created_at`,
          alias: 'k_created',
          descending: key.descending,
          nullable: false,
          ...(tagRow ? {} : { column: columnIndex('tasks.created_at') }),
        })
        break
      case 'updatedAt':
        parts.push({
          expr: sql`tasks.updated_at`,
          alias: 'k_updated',
          descending: key.descending,
          nullable: false,
          column: columnIndex('tasks.updated_at'),
        })
        break
      case 'priority':
        parts.push({
          expr: sql`tasks.priority`,
          alias: 'k_priority',
          descending: key.descending,
          nullable: false,
          column: columnIndex('tasks.priority'),
        })
        break
      case 'title':
        parts.push({
          expr: sql`lower(tasks.title)`,
          alias: 'k_title',
          descending: key.descending,
          nullable: false,
        })
        break
      case 'dueAt':
        // Tasks without a due date sort last in both directions.
        parts.push({
          expr: sql`(CASE WHEN tasks.due_at IS NULL THEN 1 ELSE 0 END)`,
          alias: 'k_due_null',
          descending: false,
          nullable: false,
        })
        parts.push({
          expr: sql`tasks.due_at`,
          alias: 'k_due',
          descending: key.descending,
          nullable: true,
          column: columnIndex('tasks.due_at'),
        })
        break
    }
  }
  const last = sort[sort.length - 1]
  parts.push({
    expr: tagRow ? sql`tt.task_id` : sql`tasks.id`,
    alias: 'k_id',
    descending: last?.descending ?? true,
    nullable: false,
    column: columnIndex('tasks.id'), // the same id, whichever row it is read from
  })
  return parts
}

/**
 * Rows strictly after `values` in the sort order: (a > v1) OR (a = v1 AND b > v2) OR …, led by
 * a ≥ v1 (a ≤ v1 descending). A key whose value is NULL adds no term of its own: nothing sorts
 * strictly after NULL within the NULL group.
 */
function keysetCondition(parts: KeyPart[], values: unknown[]): RawBuilder<unknown> {
  const ors: RawBuilder<unknown>[] = []
  // The same rows also satisfy a >= v1 (or <=): a plain range on the leading key that both engines
  // can start an index scan at, so a deep page costs what the first does (neither derives an index
  // range from the OR alone: it is applied as a filter while scanning from the top).
  const first = parts[0]
  const seek =
    first && values[0] !== null && values[0] !== undefined
      ? first.descending
        ? sql`${first.expr} <= ${values[0]}`
        : sql`${first.expr} >= ${values[0]}`
      : undefined
  for (let i = 0; i < parts.length; i++) {
    const ands: RawBuilder<unknown>[] = []
    for (let j = 0; j < i; j++) {
      const p = parts[j] as KeyPart
      const v = values[j]
      ands.push(v === null ? sql`${p.expr} IS NULL` : sql`${p.expr} = ${v}`)
    }
    const p = parts[i] as KeyPart
    const v = values[i]
    if (v === null) continue // nothing sorts strictly after NULL within its NULL group
    ands.push(p.descending ? sql`${p.expr} < ${v}` : sql`${p.expr} > ${v}`)
    ors.push(sql`(${sql.join(ands, sql` AND `)})`)
  }
  if (ors.length === 0) return sql`1 = 0`
  const after = sql`(${sql.join(ors, sql` OR `)})`
  return seek ? sql`(${seek} AND ${after})` : after
}

function normaliseKeyValue(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value
}

export interface TaskPage {
  items: Task[]
  total: number
  /** Where the following page starts, when there is one. */
  next: Position | undefined
}

/**
 * PostgreSQL: the search's tsquery, made by the parser that made the index (`to_tsvector('simple',
 * …)`, migration 0001) from `q`: every lexeme must match, as a prefix those that end where
 * `q` ends (a half-typed word; also the whole of a half-typed compound, which the parser gives
 * before its parts: `state-of-the-ar`, `example.com/pa`) and the one at the last position. Splitting the words in JavaScript disagreed with that parser: it keeps an email, a host,
 * a path or a version number (`v1.5`, `3.14`) as one lexeme, and lowers case as PostgreSQL does
 * (`İ`, a final `σ`), so such words as typed in a title were not found. Each lexeme is quoted
 * for the tsquery syntax (a quote doubled, a backslash escaped), so no input is read as an
 * operator. With no lexeme in `q` the tsquery is NULL, and `@@ NULL` holds for no row. A FROM
 * item as `AS search_query` whose one column is `search_query`, so that name is the tsquery.
 */
const postgresSearchQuery = (q: string) => sql`(
  SELECT string_agg(
    '''' || replace(replace(v.lexeme, '\\', '\\\\'), '''', '''''') || '''' ||
      CASE WHEN v.positions @> ARRAY[l.last] OR right(l.typed, length(v.lexeme)) = v.lexeme THEN ':*' ELSE '' END,
    ' & ')::tsquery AS search_query
  FROM unnest(to_tsvector('simple', ${q})) AS v,
    (SELECT max(p) AS last, lower(rtrim(${q})) AS typed
      FROM unnest(to_tsvector('simple', ${q})) AS u, unnest(u.positions) AS p) AS l
)`

/** bm25 over title and description; the state column (migration 0005) carries no weight. */
const SQLITE_RANK = sql`bm25(tasks_fts, 1.0, 1.0, 0.0)`

/**
 * The FTS5 query for `q` under the deleted filter: the user's words are matched in title and
 * description only (so "live" or "deleted" never match the state column), and the state column
 * keeps deleted tasks out (or in) inside the index.
 */
function sqliteMatch(q: string, deleted: TaskFilter['deleted']): string | undefined {
  const words = ftsMatchExpression(q)
  if (words === undefined) return undefined
  const text = `{title description} : (${words})`
  if (deleted === 'exclude') return `${text} NOT state : deleted`
  if (deleted === 'only') return `${text} AND state : deleted`
  return text
}

/**
 * True when the index alone decides which tasks match: `q` and the deleted filter, and the
 * viewer may see every task the state column lets through (deleted tasks of others are
 * visible to admins only). Any other filter needs the task rows.
 */
function indexAnswers(filter: TaskFilter, viewer: ListViewer): boolean {
  for (const [name, value] of Object.entries(filter))
    if (value !== undefined && name !== 'q' && name !== 'deleted') return false
  return filter.deleted === 'exclude' || viewer.seesAllDeleted
}

/** The engine's full-text pieces: what to select from, the match condition and the best-first order. */
function searchSql(
  engine: Engine,
  filter: TaskFilter,
):
  | {
      from: RawBuilder<unknown>
      condition?: RawBuilder<unknown>
      rankOrder: RawBuilder<unknown>
      tieBreak: RawBuilder<unknown>
      /** PostgreSQL: the rank itself (higher is better), for the one-pass relevance page. */
      rank?: RawBuilder<unknown>
    }
  | undefined {
  const q = filter.q ?? ''
  if (engine === 'sqlite') {
    const match = sqliteMatch(q, filter.deleted)
    if (match === undefined) return undefined
    return {
      from: sql`tasks JOIN (SELECT rowid AS fts_rowid, ${SQLITE_RANK} AS fts_rank FROM tasks_fts WHERE tasks_fts MATCH ${match}) fts ON fts.fts_rowid = tasks.rowid`,
      rankOrder: sql`fts.fts_rank ASC`,
      tieBreak: sql`tasks.rowid`,
    }
  }
  // Nothing that could be a word (punctuation only): no search can match.
  if (q.match(SEARCH_WORDS) === null) return undefined
  // The tsquery is a FROM item so it is made once per query: written inline, the prepared
  // (generic) plan re-parsed it for every matching row in ts_rank and the recheck (39 → 19 ms to
  // rank 15k matches at 100k tasks, 18 → 12 ms to count them).
  return {
    // PostgreSQL text cannot hold NUL, which separates words like any other control character.
    from: sql`tasks CROSS JOIN ${postgresSearchQuery(q.replaceAll('\u0000', ' '))} AS search_query`,
    condition: sql`tasks.search @@ search_query`,
    rankOrder: sql`ts_rank(tasks.search, search_query) DESC`,
    tieBreak: sql`tasks.id`,
    rank: sql`ts_rank(tasks.search, search_query)`,
  }
}

/** A listing compiled to SQL: what runList executes, and how it reads the next position. */
type CompiledList =
  | { kind: 'empty' }
  | {
      kind: 'page'
      /** page.total: a count query, or a number known without one. */
      count: CompiledQuery | number
      page: CompiledQuery
      limit: number
      /** Offset pages (relevance order): where this page starts. */
      start: number
      /**
       * Keyset pages: where each sort value the next cursor carries is in a page row, counted
       * from the task's first column (a task column, or one selected after the task's). The
       * id, the last key, is the cursor's `id`.
       */
      keys: number[] | undefined
      /** A full-text search: costs milliseconds, so it runs off the main thread where the engine can. */
      search: boolean
      /**
       * PostgreSQL: `page` also selects the count as a `total` column (see compileList), so a
       * non-empty page is one statement; `count` runs by itself only for an empty page.
       */
      totalInPage: boolean
    }

/**
 * Compiled listings by everything that shapes their SQL and parameters (engine, plan, viewer),
 * so a listing asked again (the first page of a busy view, the same cursor) skips building and
 * compiling its two queries: ~40 µs of the ~120 µs a first page cost in the repository, the
 * rest being SQLite's. Compiling is a pure function of the key; the cache is bounded.
 */
const compiledLists = new Map<string, CompiledList>()
const COMPILED_LISTS_MAX = 1000

/** Database.readOffThread: where a search's count and page run when the engine offers it. */
export type OffThreadRead = (queries: readonly CompiledQuery[]) => Promise<unknown[][]>

/** Where a listing's queries may run besides `db`, when the engine offers it (Database). */
export interface ListReads {
  /** A search's count and page, off the main thread. */
  offThread?: OffThreadRead
  /** Every other listing's count and page, at once on the main connection. */
  now?: ReadNow
  /** Every other listing's count and page, as values on a pooled connection (PostgreSQL). */
  values?: ReadValues
  /** Searches answered again without the database while it has not changed. */
  searches?: SearchCache
}

/**
 * What a caller makes of a page. With a `kept` name, a search's result is kept in that form (see
 * runList), so a search asked again skips building it too: the name must be unique to the form,
 * `make` must depend on nothing but the page and what listTasksAs keys a listing by (engine,
 * plan, viewer), and what is kept is shared by every request it answers, so nobody may change it.
 * `keep`, when given, turns what `make` made into what is kept (and answered from then on).
 */
export interface PageForm<R> {
  kept: string | undefined
  make(page: TaskPage): R
  keep?(made: R): R
}

/** The page as it is: plain objects a caller may change, so never kept. */
export const AS_PAGE: PageForm<TaskPage> = { kept: undefined, make: (page) => page }

export function listTasks(
  db: Executor,
  engine: Engine,
  plan: ListPlan,
  viewer: ListViewer,
  reads: ListReads = {},
): Promise<TaskPage> {
  return listTasksAs(db, engine, plan, viewer, reads, AS_PAGE)
}

/** As listTasks, answering `form.make(page)`. */
export async function listTasksAs<R>(
  db: Executor,
  engine: Engine,
  plan: ListPlan,
  viewer: ListViewer,
  reads: ListReads,
  form: PageForm<R>,
): Promise<R> {
  const key = JSON.stringify([engine, viewer.userId, viewer.seesAllDeleted, plan])
  let compiled = compiledLists.get(key)
  if (compiled === undefined) {
    compiled = compileList(db, engine, plan, viewer)
    if (compiledLists.size >= COMPILED_LISTS_MAX) {
      const oldest = compiledLists.keys().next().value
      if (oldest !== undefined) compiledLists.delete(oldest)
    }
    compiledLists.set(key, compiled)
  }
  return runList(db, compiled, key, reads, form)
}

async function runList<R>(
  db: Executor,
  c: CompiledList,
  key: string,
  reads: ListReads,
  form: PageForm<R>,
): Promise<R> {
  if (c.kind === 'empty') return form.make({ items: [], total: 0, next: undefined })
  const searches = c.search && form.kept !== undefined ? reads.searches : undefined
  if (!searches) return form.make(pageOf(c, await readList(db, c, reads)))
  // A search asked again of unchanged data is answered from the cache (db/result-cache.ts), in
  // the caller's form: the version is read first, and what the database then answers is stored
  // under it.
  const version = await searches.version()
  if (version === undefined) return form.make(pageOf(c, await readList(db, c, reads)))
  const formKey = `${form.kept}\n${key}`
  const cached = searches.results.get(version, formKey)
  if (cached !== undefined) return cached as R
  const made = form.make(pageOf(c, await readList(db, c, reads)))
  const kept = form.keep ? form.keep(made) : made
  searches.results.set(version, formKey, kept)
  return kept
}

/** A listing's rows (as ReadNow's) and page.total, as the database answers them. */
interface ListRows {
  rows: unknown[][]
  total: number
}

async function readList(
  db: Executor,
  c: Extract<CompiledList, { kind: 'page' }>,
  reads: ListReads,
): Promise<ListRows> {
  const { offThread: readOffThread, now: readNow, values: readValues } = reads
  // One query at once where the engine can (readNow answers undefined while a transaction holds
  // the connection), else as values on a pooled connection, else through `db`. Rows are arrays
  // of values: a page row is [total (PostgreSQL, totalInPage)], the task's TASK_COLUMNS, then
  // the sort keys.
  const read = async (query: CompiledQuery): Promise<unknown[][]> =>
    readNow?.(query) ??
    (readValues ? await readValues(query) : rowValues((await db.executeQuery(query)).rows))
  const totalOf = (rows: unknown[][]) => Number(rows[0]?.[0] ?? 0)
  if (c.search && readOffThread) {
    if (typeof c.count === 'number')
      return { total: c.count, rows: rowValues((await readOffThread([c.page]))[0] ?? []) }
    const [countRows, pageRows] = await readOffThread([c.count, c.page])
    return { total: totalOf(rowValues(countRows ?? [])), rows: rowValues(pageRows ?? []) }
  }
  if (c.totalInPage && typeof c.count !== 'number') {
    const rows = await read(c.page)
    // An empty page has no row to carry the total (past the end, or nothing matches): count alone.
    return { rows, total: totalOf(rows.length > 0 ? rows : await read(c.count)) }
  }
  const total = typeof c.count === 'number' ? c.count : totalOf(await read(c.count))
  // Nothing matches: there is no page to read. Over a filter no index leads with in the page's
  // order (a priority, a due range), the page query would walk every task to find none.
  return { total, rows: total === 0 ? [] : await read(c.page) }
}

/** The page a listing's rows make: its tasks, page.total and the next position. */
function pageOf(c: Extract<CompiledList, { kind: 'page' }>, { rows, total }: ListRows): TaskPage {
  const at = c.totalInPage ? 1 : 0
  const pageRows = rows.length > c.limit ? rows.slice(0, c.limit) : rows
  const last = pageRows[pageRows.length - 1]
  let next: Position | undefined
  if (rows.length > c.limit && last)
    next = c.keys
      ? {
          after: c.keys.map((offset) => normaliseKeyValue(last[at + offset])),
          id: last[at] as string,
        }
      : { offset: c.start + c.limit }
  return { items: pageRows.map((row) => taskFromValues(row, at)), total, next }
}

function compileList(db: Executor, engine: Engine, plan: ListPlan, viewer: ListViewer): CompiledList {
  const columns = sql.join(TASK_COLUMNS.map((c) => sql.ref(c)))
  const fetch = limitSql(plan.limit + 1) // literals: see limitSql and offsetSql
  const offsetStart = plan.position && 'offset' in plan.position ? plan.position.offset : plan.offset
  const skip = offsetSql(offsetStart)
  const byStatusIndex = readsByStatusIndex(engine, plan)
  const byTagIndex = readsByTagIndex(plan)
  const conditions = filterConditions(plan.filter, viewer, {
    statusAsRange: byStatusIndex,
    tagJoined: byTagIndex,
  })
  // The tag rows lead (SQLite's CROSS JOIN keeps them the outer loop), each joined to its task.
  let from: RawBuilder<unknown> = !byTagIndex
    ? sql`tasks`
    : engine === 'sqlite'
      ? sql`task_tags tt CROSS JOIN tasks ON tasks.id = tt.task_id`
      : sql`task_tags tt JOIN tasks ON tasks.id = tt.task_id`
  let rankOrder: RawBuilder<unknown> | undefined
  let rank: RawBuilder<unknown> | undefined
  let tieBreak: RawBuilder<unknown> = sql`tasks.id`
  if (plan.filter.q !== undefined) {
    const search = searchSql(engine, plan.filter)
    if (search === undefined) return { kind: 'empty' }
    if (engine === 'sqlite' && plan.sort === null && indexAnswers(plan.filter, viewer)) {
      // Answered by the search index alone (see indexAnswers): counted and ranked inside the
      // index, and only the page's rows read from `tasks`. Ties in rank keep insertion order.
      const match = sqliteMatch(plan.filter.q, plan.filter.deleted) as string
      return {
        kind: 'page',
        count: sql`SELECT count(*) AS total FROM tasks_fts WHERE tasks_fts MATCH ${match}`.compile(db),
        page: sql`SELECT ${columns} FROM (
            SELECT rowid AS fts_rowid, ${SQLITE_RANK} AS fts_rank FROM tasks_fts WHERE tasks_fts MATCH ${match}
            ORDER BY fts_rank, fts_rowid LIMIT ${fetch} OFFSET ${skip}
          ) fts CROSS JOIN tasks ON tasks.rowid = fts.fts_rowid ORDER BY fts.fts_rank, fts.fts_rowid`.compile(
          db,
        ),
        limit: plan.limit,
        start: offsetStart,
        keys: undefined,
        search: true,
        totalInPage: false,
      }
    }
    from = search.from
    rankOrder = search.rankOrder
    rank = search.rank
    tieBreak = search.tieBreak
    if (search.condition) conditions.push(search.condition)
  }
  const where = conditions.length > 0 ? sql`WHERE ${sql.join(conditions, sql` AND `)}` : sql``
  const count = counterQuery(plan.filter, viewer) ?? sql`SELECT COUNT(*) AS total FROM ${from} ${where}`
  const compiledCount = typeof count === 'number' ? count : count.compile(db)
  const totalInPage = engine === 'postgres' && typeof count !== 'number'
  // PostgreSQL: the count rides in the page's SELECT list as a scalar subquery. It does not
  // depend on the row, so PostgreSQL evaluates it once per statement (an InitPlan), from the
  // same snapshot as the page, and a listing is one round trip instead of two (each statement
  // costs this process ~120 µs of CPU and the server a parse/bind/execute of its own).
  const selected = totalInPage ? sql`(${count}) AS total, ${columns}` : columns

  if (plan.sort === null && rank !== undefined && totalInPage) {
    // PostgreSQL, relevance order: every match is read once. The matches' ids and ranks are
    // materialized (small: an id and a float each), then counted and cut to the page, and only
    // the page's rows are read again. Counting in a subquery of its own read every match's row
    // a second time (bitmap heap scan and recheck): 15k matches of 100k tasks took 61–77 ms
    // against 45 ms this way (the prepared statements timed in psql, alternated three times).
    return {
      kind: 'page',
      count: compiledCount,
      page: sql`WITH matches AS MATERIALIZED (SELECT tasks.id, ${rank} AS rank FROM ${from} ${where})
        SELECT (SELECT count(*) FROM matches) AS total, ${columns}
        FROM (SELECT id, rank FROM matches ORDER BY rank DESC, id LIMIT ${fetch} OFFSET ${skip}) AS top
        JOIN tasks ON tasks.id = top.id
        ORDER BY top.rank DESC, top.id`.compile(db),
      limit: plan.limit,
      start: offsetStart,
      keys: undefined,
      search: true,
      totalInPage,
    }
  }

  if (plan.sort === null) {
    // Relevance order: FTS rank is not a stable key, so these pages advance by offset.
    return {
      kind: 'page',
      count: compiledCount,
      page: sql`SELECT ${selected} FROM ${from} ${where} ORDER BY ${rankOrder ?? sql`tasks.created_at DESC`}, ${tieBreak} LIMIT ${fetch} OFFSET ${skip}`.compile(
        db,
      ),
      limit: plan.limit,
      start: offsetStart,
      keys: undefined,
      search: plan.filter.q !== undefined,
      totalInPage,
    }
  }

  const parts = keyParts(plan.sort, byTagIndex)
  const pageConditions = [...conditions]
  const keyset = plan.position && 'after' in plan.position ? plan.position : undefined
  if (keyset) pageConditions.push(keysetCondition(parts, [...keyset.after, keyset.id]))
  const offset = keyset ? 0 : offsetStart
  const pageWhere = pageConditions.length > 0 ? sql`WHERE ${sql.join(pageConditions, sql` AND `)}` : sql``
  const orderParts = byStatusIndex
    ? [{ expr: sql`tasks.status`, descending: parts[0]?.descending ?? true }, ...parts]
    : parts
  const order = sql.join(orderParts.map((p) => (p.descending ? sql`${p.expr} DESC` : sql`${p.expr} ASC`)))
  // Keys that are not a task column as it is (lower(title), the due date's null flag, a tag
  // row's time) are selected after the task's columns; the rest are read from the task's.
  const extra = parts.filter((p) => p.column === undefined)
  const keys = parts
    .slice(0, -1)
    .map((p) => (p.column !== undefined ? p.column : TASK_COLUMNS.length + extra.indexOf(p)))
  const keyColumns =
    extra.length > 0 ? sql`, ${sql.join(extra.map((p) => sql`${p.expr} AS ${sql.ref(p.alias)}`))}` : sql``
  return {
    kind: 'page',
    count: compiledCount,
    page: sql`SELECT ${selected}${keyColumns} FROM ${from} ${pageWhere} ORDER BY ${order} LIMIT ${fetch} OFFSET ${offsetSql(offset)}`.compile(
      db,
    ),
    limit: plan.limit,
    start: offset,
    keys,
    search: plan.filter.q !== undefined,
    totalInPage,
  }
}

const COUNTED_FILTERS = new Set(['deleted', 'statuses', 'priorities', 'ownerId', 'tag'])

/**
 * page.total from the counter tables (migration 0003) when the filter uses only what they are
 * keyed by (owner, deleted, status, priority, tag): a sum over at most a few hundred rows,
 * whatever the size of the table. Undefined for due-date ranges and `q`, which the caller
 * counts with COUNT(*) over their index, costing in proportion to the matches; a number when
 * the answer is known without a query.
 */
function counterQuery(
  filter: TaskFilter,
  viewer: ListViewer,
): RawBuilder<{ total: unknown }> | number | undefined {
  // Only filters the counters are keyed by; any other (due dates, q, or one added later) is counted by COUNT(*).
  for (const [name, value] of Object.entries(filter))
    if (value !== undefined && !COUNTED_FILTERS.has(name)) return undefined
  const scope = filter.ownerId ?? '*'
  // Deleted tasks of others are invisible to non-admins: their deleted part is the viewer's own.
  const ownDeleted =
    filter.ownerId === undefined || filter.ownerId === viewer.userId ? viewer.userId : undefined
  const parts: { scope: string; deleted: 0 | 1 }[] = []
  if (filter.deleted !== 'only') parts.push({ scope, deleted: 0 })
  if (filter.deleted !== 'exclude') {
    if (viewer.seesAllDeleted) parts.push({ scope, deleted: 1 })
    else if (ownDeleted !== undefined) parts.push({ scope: ownDeleted, deleted: 1 })
  }
  if (parts.length === 0) return 0
  const conditions: RawBuilder<unknown>[] = [
    sql`(${sql.join(
      parts.map((p) => sql`(scope = ${p.scope} AND deleted = ${p.deleted})`),
      sql` OR `,
    )})`,
  ]
  if (filter.statuses) conditions.push(sql`status IN (${sql.join(filter.statuses)})`)
  if (filter.priorities) conditions.push(sql`priority IN (${sql.join(filter.priorities.map(rankOf))})`)
  if (filter.tag !== undefined) conditions.unshift(sql`tag = ${filter.tag}`)
  const table = filter.tag !== undefined ? sql`task_tag_counts` : sql`task_counts`
  return sql<{
    total: unknown
  }>`SELECT SUM(n) AS total FROM ${table} WHERE ${sql.join(conditions, sql` AND `)}`
}
