// Route schemas for registration, login and the current user.
import { Type } from '@sinclair/typebox'
import { Nullable, StringEnum } from '../http/schemas.ts'
import { SCOPES } from './scopes.ts'

// One @, no spaces or control characters, a dot in the domain; surrounding whitespace is trimmed later.
// Checked in the schema pass so one 422 lists it beside the other fields' problems.
const EMAIL_PATTERN =
  '^\\s*[^\\s@\\u0000-\\u001F\\u007F-\\u009F]+@[^\\s@\\u0000-\\u001F\\u007F-\\u009F]+\\.[^\\s@\\u0000-\\u001F\\u007F-\\u009F]+\\s*$'

/** A name that is trimmed: 1–`max` characters after trimming, no control characters. */
const TrimmedName = (max: number, description: string) =>
  Type.Unsafe<string>({
    type: 'string',
    maxLength: 1000,
    'x-trimmed-max-length': max,
    allOf: [
      { pattern: '\\S', 'x-error': 'must not be empty' },
      { pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]*$', 'x-error': 'must not contain control characters' },
    ],
    description,
  })

export const UserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    name: Type.String(),
    role: StringEnum(['user', 'admin'] as const),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'User', title: 'User' },
)

export const RegisterBody = Type.Object(
  {
    email: Type.String({
      maxLength: 320,
      // RFC 5321's longest path, counted after trimming; in the schema pass, so it is listed with the rest.
      'x-trimmed-max-length': 254,
      pattern: EMAIL_PATTERN,
      'x-error': 'must be a valid email address',
      description:
        'Trimmed, lower-cased and put in Unicode NFC (RFC 6532), so one address typed two ways is one account',
    }),
    password: Type.String({ minLength: 12, maxLength: 256, description: '12–256 characters' }),
    name: TrimmedName(100, '1–100 characters after trimming; no control characters'),
  },
  { additionalProperties: false },
)

export const LoginBody = Type.Object(
  {
    email: Type.String({
      maxLength: 320,
      // RFC 5321's longest path, counted after trimming; in the schema pass, so it is listed with the rest.
      'x-trimmed-max-length': 254,
      pattern: EMAIL_PATTERN,
      'x-error': 'must be a valid email address',
    }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
)

export const TokenPairSchema = Type.Object({
  accessToken: Type.String({ description: 'JWT (EdDSA), verify with /.well-known/jwks.json' }),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' }),
  refreshToken: Type.String({ description: 'Opaque; exchange at /v1/auth/refresh' }),
})

export const JwksSchema = Type.Object({
  keys: Type.Array(Type.Object({}, { additionalProperties: true })),
})

export const RefreshBody = Type.Object(
  {
    refreshToken: Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'The refresh token from login or the last refresh',
    }),
  },
  { additionalProperties: false },
)

export const ApiTokenScopes = Type.Array(StringEnum(SCOPES), {
  minItems: 1,
  maxItems: SCOPES.length,
  uniqueItems: true,
  description: 'Subset of the scopes your role holds',
})

export const CreateApiTokenBody = Type.Object(
  {
    name: TrimmedName(100, 'What the token is for; 1–100 characters after trimming; no control characters'),
    scopes: ApiTokenScopes,
    expiresAt: Type.Optional(
      Type.String({ format: 'date-time', 'x-future': true, description: 'Optional expiry, in the future' }),
    ),
  },
  { additionalProperties: false },
)

export const ApiTokenSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    scopes: Type.Array(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Nullable(Type.String({ format: 'date-time' })),
  },
  { title: 'ApiToken' },
)

export const CreatedApiTokenSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Nullable(Type.String({ format: 'date-time' })),
  token: Type.String({ description: 'The secret, `tt_…`: shown only in this response' }),
})

export const ApiTokenListSchema = Type.Object({ items: Type.Array(ApiTokenSchema) })

// Any id is taken here (the router bounds its length): one that is not a token's is 404, malformed or not.
export const ApiTokenIdParams = Type.Object({ id: Type.String() })
