// Route schemas for registration, login and the current user.
import { Type } from '@sinclair/typebox'
import { StringEnum } from '../http/schemas.ts'

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
