/**
 * A timestamp as the API writes it (ISO 8601, UTC, with as many fraction digits as Postgres
 * keeps), made comparable as text: its fraction padded to microseconds.
 */
export const sortable = (iso: string) =>
  iso.replace(
    /(:\d\d)(?:\.(\d+))?Z$/,
    (_, seconds: string, fraction = '') => `${seconds}.${fraction.padEnd(6, '0')}Z`,
  )
