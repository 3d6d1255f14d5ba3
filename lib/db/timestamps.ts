/**
 * MikroORM's PostgreSQL driver makes `pg` return timestamptz columns of raw queries as text
 * ("2026-11-25 10:00:00.123456+00"); the API speaks ISO-8601 UTC (SPEC §3).
 */
export type Timestamp = string | Date;

export function toDate(value: Timestamp): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`Not a timestamp: ${String(value)}`);
  return date;
}

export function isoTimestamp(value: Timestamp): string {
  return toDate(value).toISOString();
}
