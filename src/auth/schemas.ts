// Route schemas for registration, login and the current user.
import { Type } from '@sinclair/typebox'
import { Nullable, StringEnum } from '../http/schemas.ts'
import { SCOPES } from './scopes.ts'

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
    email: Type.String({ minLength: 1, maxLength: 320, description: 'Trimmed and lower-cased' }),
    password: Type.String({ minLength: 12, maxLength: 256, description: '12–256 characters' }),
    name: Type.String({ minLength: 1, maxLength: 200, description: '1–100 characters after trimming' }),
  },
  { additionalProperties: false },
)

export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 320 }),
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
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'What the token is for; 1–100 characters',
    }),
    scopes: ApiTokenScopes,
    expiresAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'Optional expiry, in the future' }),
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

export const ApiTokenIdParams = Type.Object({ id: Type.String({ maxLength: 100 }) })
