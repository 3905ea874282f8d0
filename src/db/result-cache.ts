// Results of reads kept while the database has not changed since they were
// read. Full-text searches use it (tasks/list-repository.ts): a search
// relevance-ranks every match, 5–45 ms by engine and word at 100k tasks, and
// the same search asked again of unchanged data has the same answer.
//
// Correctness rests on a version, not on time: there is no TTL. A version is
// a value the engine changes whenever any committed data may have changed
// (Database.searchCache: on SQLite the writer connection's change count and
// `PRAGMA data_version`; on PostgreSQL the text of `pg_current_snapshot()`),
// read before the read it labels. A result is served only while the version
// still equals the one it was stored under, that is while nothing has been
// committed since, so a search never answers from data older than the last
// commit before it began. A read that saw a commit made after its version was
// read is stored under a version that is then already out of date, and is
// never served. A version may change when nothing a search reads did (any
// write to any table, and on PostgreSQL any transaction in the cluster): that
// costs a miss, never a stale answer. Versions are only compared, never
// ordered: two requests whose versions arrive out of order make the cache
// move back to the older one and empty itself twice, which costs misses too.
//
// No library fits: an LRU package would still need the version and the size
// estimate, which are all there is to it besides a Map.

/**
 * About how many bytes a result holds: 8 a value, a string's length twice over (V8 keeps
 * non-Latin-1 text as two bytes a character), 32 an array, object or date besides what it holds.
 * An estimate for the bound, not a measurement of the heap.
 */
function sizeOf(value: unknown): number {
  if (typeof value === 'string') return 16 + value.length * 2
  if (Array.isArray(value)) {
    let n = 32
    for (const v of value) n += sizeOf(v)
    return n
  }
  if (value instanceof Uint8Array) return 32 + value.byteLength
  if (value instanceof Date) return 32
  if (value !== null && typeof value === 'object') {
    let n = 32
    for (const [k, v] of Object.entries(value)) n += sizeOf(k) + sizeOf(v)
    return n
  }
  return 8
}

/** What an entry costs besides its key and value: its Map slot and the record holding its size. */
const ENTRY_BYTES = 100

export class ResultCache<T> {
  readonly #entries = new Map<string, { value: T; bytes: number }>()
  #version: unknown
  #bytes = 0
  readonly #maxBytes: number
  readonly #maxEntryBytes: number
  /** Lookups answered (hits) and not (misses), for /metrics. */
  readonly counts = { hits: 0, misses: 0 }

  /** @param maxBytes the bound over all entries (estimated, see sizeOf); 0 keeps nothing */
  constructor(maxBytes: number) {
    if (!Number.isFinite(maxBytes) || maxBytes < 0)
      throw new RangeError(`maxBytes must be ≥ 0, not ${maxBytes}`)
    this.#maxBytes = maxBytes
    // One result may take an eighth of the bound, so a few large pages cannot empty it.
    this.#maxEntryBytes = maxBytes / 8
  }

  /** Results held now, for tests. */
  get size(): number {
    return this.#entries.size
  }

  /** Estimated bytes held now, for tests. */
  get bytes(): number {
    return this.#bytes
  }

  /**
   * The result stored under `key` at `version`, or undefined. A version other than the one the
   * entries were stored under empties the cache first: they describe data that has changed.
   */
  get(version: unknown, key: string): T | undefined {
    if (!Object.is(version, this.#version)) {
      this.#entries.clear()
      this.#bytes = 0
      this.#version = version
    }
    const entry = this.#entries.get(key)
    if (!entry) {
      this.counts.misses++
      return undefined
    }
    this.counts.hits++
    // Most recently used last, so the bound evicts the least recently used first.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.value
  }

  /**
   * Keeps `value` under `key`, when `version` is still the latest one `get` saw (a read that began
   * before a newer version was seen is not stored: its version is already out of date) and the
   * value fits the bound. The value is shared by everyone it is served to: nobody may change it.
   */
  set(version: unknown, key: string, value: T): void {
    if (!Object.is(version, this.#version)) return
    const bytes = ENTRY_BYTES + sizeOf(value) + sizeOf(key)
    if (bytes > this.#maxEntryBytes) return
    const old = this.#entries.get(key)
    if (old) {
      this.#entries.delete(key)
      this.#bytes -= old.bytes
    }
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes + bytes <= this.#maxBytes) break
      this.#entries.delete(oldest)
      this.#bytes -= entry.bytes
    }
    this.#entries.set(key, { value, bytes })
    this.#bytes += bytes
  }
}
