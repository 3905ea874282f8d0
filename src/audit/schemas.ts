// Route schemas for the audit log.
import { Type } from '@sinclair/typebox'
import { Nullable, StringEnum } from '../http/schemas.ts'
import { AUDIT_ACTIONS } from './recorder.ts'

export const AuditQuery = Type.Object(
  {
    actor: Type.Optional(Type.String({ format: 'uuid', description: 'Only events by this user id' })),
    action: Type.Optional(StringEnum(AUDIT_ACTIONS, { description: 'Only events of this action' })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Events at or after this time' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Events before this time' })),
    limit: Type.Integer({ minimum: 1, default: 20, description: 'Page size; values above 100 are capped' }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
)

export const AuditEventSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    at: Type.String({ format: 'date-time' }),
    actorId: Nullable(
      Type.String({ description: 'The user who acted; null for the command line or unknown accounts' }),
    ),
    action: Type.String(),
    targetType: Nullable(Type.String()),
    targetId: Nullable(Type.String()),
    address: Nullable(Type.String({ description: 'Client address' })),
    requestId: Nullable(Type.String()),
    details: Type.Object({}, { additionalProperties: true }),
  },
  { title: 'AuditEvent' },
)

export const PageSchema = Type.Object({
  limit: Type.Integer(),
  offset: Type.Integer(),
  total: Type.Integer(),
})

export const AuditListSchema = Type.Object({
  items: Type.Array(AuditEventSchema),
  page: PageSchema,
})
