import { readFileSync } from 'node:fs'

/**
 * The body rows of the markdown table in `page` whose header row is `header` (cells trimmed). Throws
 * when the page has no such table, so a renamed or removed table fails its test instead of passing
 * with nothing checked.
 */
export const tableRows = (page: URL, header: string): string[][] => {
  const lines = readFileSync(page, 'utf8').split('\n')
  const at = lines.indexOf(header)
  if (at === -1) throw new Error(`no table "${header}" in ${page.pathname}`)
  const rows: string[][] = []
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith('|')) break
    rows.push(
      line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split(' | ')
        .map((c) => c.trim()),
    )
  }
  return rows
}

/** The clauses of a rules cell: its sentences and `;`-separated parts. */
export const clausesOf = (cell: string): string[] =>
  cell
    .split(/(?<=[.;])\s+/)
    .map((c) => c.trim())
    .filter((c) => c.length > 0)
