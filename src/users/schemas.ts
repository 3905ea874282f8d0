// Route schemas for account administration.
import { Type } from '@sinclair/typebox'
import { PageSchema } from '../audit/schemas.ts'
import { UserSchema } from '../auth/schemas.ts'

export const UsersQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, default: 20, description: 'Page size; values above 100 are capped' }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)

export const UserListSchema = Type.Object({
  items: Type.Array(Type.Ref(UserSchema)),
  page: PageSchema,
})
