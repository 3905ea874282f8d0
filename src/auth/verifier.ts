// Resolves any bearer credential to a principal: personal API tokens (`tt_…`),
// access tokens of the configured external provider (by their `iss`), and our own JWTs.
import type { ApiTokenService } from './api-tokens.ts'
import type { ExternalTokens } from './external.ts'
import type { Principal } from './scopes.ts'
import type { AccessTokens } from './tokens.ts'

export class BearerVerifier {
  readonly #tokens: AccessTokens
  readonly #apiTokens: ApiTokenService
  readonly #external: ExternalTokens | undefined

  constructor(deps: {
    tokens: AccessTokens
    apiTokens: ApiTokenService
    external?: ExternalTokens | undefined
  }) {
    this.#tokens = deps.tokens
    this.#apiTokens = deps.apiTokens
    this.#external = deps.external
  }

  verifyBearer(token: string): Promise<Principal> {
    if (token.startsWith('tt_')) return this.#apiTokens.resolve(token)
    // Only a token naming the external issuer goes to its key set; everything else must be ours.
    if (this.#external?.claims(token)) return this.#external.verify(token)
    return this.#tokens.verify(token)
  }
}
