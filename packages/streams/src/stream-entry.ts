/** The shape of an entry read from a Redis Stream, shared by the event store and the batch sizer. */

/** An entry as read: its ID and its flat `[field, value, field, value, ...]` list, as bytes. */
export type StreamEntry = [id: Buffer, fields: Buffer[]];
