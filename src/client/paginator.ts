import { ColloquyError } from '../errors.ts'

/**
 * One page of a list, Twilio style: `items` ascending, and the neighbouring pages as new
 * paginators. `prevPage()`/`nextPage()` reject with `NO_PAGE` when there is none.
 */
export class Paginator<T> {
  /**
   * The page's items, ascending: a plain array of the page's own (typed `T[]`, as Twilio's
   * samples assign it: `const messages: Message[] = paginator.items`). Changing it changes
   * nothing else.
   */
  readonly items: T[]
  readonly hasPrevPage: boolean
  readonly hasNextPage: boolean
  readonly #prev: (() => Promise<Paginator<T>>) | null
  readonly #next: (() => Promise<Paginator<T>>) | null

  /** @internal */
  constructor(
    items: readonly T[],
    prev: (() => Promise<Paginator<T>>) | null,
    next: (() => Promise<Paginator<T>>) | null,
  ) {
    this.items = [...items]
    this.hasPrevPage = prev !== null
    this.hasNextPage = next !== null
    this.#prev = prev
    this.#next = next
  }

  /** The previous (older) page. */
  prevPage(): Promise<Paginator<T>> {
    if (!this.#prev) return Promise.reject(new ColloquyError('NO_PAGE', 'No previous page'))
    return this.#prev()
  }

  /** The next (newer) page. */
  nextPage(): Promise<Paginator<T>> {
    if (!this.#next) return Promise.reject(new ColloquyError('NO_PAGE', 'No next page'))
    return this.#next()
  }
}

/**
 * Pages over a list of known length by position: `[start, end)` of `size` items. Used for lists
 * whose order is stable while paging (participants, conversations).
 */
export const pageByPosition = <T>(all: readonly T[], start: number, size: number): Paginator<T> => {
  const end = Math.min(all.length, start + size)
  return new Paginator(
    all.slice(start, end),
    start > 0 ? async () => pageByPosition(all, Math.max(0, start - size), Math.min(size, start)) : null,
    end < all.length ? async () => pageByPosition(all, end, size) : null,
  )
}
