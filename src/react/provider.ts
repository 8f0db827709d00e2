import {
  createContext,
  createElement,
  type ReactNode,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from 'react'
import { Client, type ClientOptions } from '../client/client.ts'
import { ColloquyError } from '../errors.ts'
import { type SharedWindow, WindowCache, type WindowSpec, type WindowState } from './shared-window.ts'

interface ColloquyContextValue {
  readonly client: Client
  readonly cache: WindowCache
}

const ColloquyContext = createContext<ColloquyContextValue | null>(null)

/** Props of `ColloquyProvider`: a client you created, or the options to create one. */
export type ColloquyProviderProps =
  | {
      /** The client the hooks below use. You shut it down; the provider does not. */
      client: Client
      options?: never
      fallback?: never
      children?: ReactNode
    }
  | {
      client?: never
      /**
       * Options for `Client.create`, read once on mount (give the provider a new `key` to start
       * over with other options). The provider shuts this client down when it unmounts.
       */
      options: ClientOptions
      /** Rendered while the client opens. Default: nothing. */
      fallback?: ReactNode
      children?: ReactNode
    }

/**
 * Makes a colloquy `Client` available to the hooks below it, and shares their live windows: every
 * component asking the same thing (`useMessages(sid, { limit: 30 })` twice) reads one window,
 * released when the last of them unmounts.
 *
 * @example
 * const client = await Client.create({ identity: 'alice' })
 * const app = createElement(ColloquyProvider, { client }, createElement(Inbox))
 */
export function ColloquyProvider(props: ColloquyProviderProps): ReactNode {
  const [created, setCreated] = useState<{ client: Client | null; error: unknown }>({ client: null, error: null })
  const options = props.client === undefined ? props.options : undefined
  // biome-ignore lint/correctness/useExhaustiveDependencies: options are read once on mount (documented)
  useEffect(() => {
    if (options === undefined) return
    let cancelled = false
    let client: Client | null = null
    Client.create(options).then(
      (c) => {
        client = c
        if (cancelled) void c.shutdown()
        else setCreated({ client: c, error: null })
      },
      (error: unknown) => {
        if (!cancelled) setCreated({ client: null, error })
      },
    )
    return () => {
      cancelled = true
      if (client !== null) void client.shutdown()
    }
  }, [])
  if (created.error !== null) throw created.error
  const client = props.client ?? created.client
  if (client === null) return props.fallback ?? null
  return createElement(CacheScope, { client }, props.children)
}

/**
 * The window cache of each client, shared by every provider of that client. Kept outside React
 * state on purpose: a render React discards (a mount that failed or suspended above the provider)
 * would otherwise drop its cache, and the next attempt would open every window again.
 */
const caches = new WeakMap<Client, WindowCache>()

const cacheOf = (client: Client): WindowCache => {
  let cache = caches.get(client)
  if (cache === undefined || cache.closed) {
    cache = new WindowCache()
    caches.set(client, cache)
  }
  return cache
}

/** Provides the client's window cache, held while mounted and closed when the last provider of it unmounts. */
function CacheScope({ client, children }: { client: Client; children?: ReactNode }): ReactNode {
  const cache = cacheOf(client)
  const value = useMemo(() => ({ client, cache }), [client, cache])
  useEffect(() => cache.hold(), [cache])
  return createElement(ColloquyContext.Provider, { value }, children)
}

/** @internal The provider's client and window cache. */
export const useColloquy = (): ColloquyContextValue => {
  const value = useContext(ColloquyContext)
  if (value === null)
    throw new ColloquyError('INVALID_ARGUMENT', 'colloquy hooks must be used inside a <ColloquyProvider>')
  return value
}

/** The provider's `Client`, for actions the hooks do not cover (`createConversation`, …). */
export const useClient = (): Client => useColloquy().client

const IDLE: WindowState<undefined> = Object.freeze({ status: 'loading', value: undefined, error: null })
const detached = () => () => {}
const idle = () => IDLE

/**
 * @internal Reads the shared window `key` (made from `spec` if it is not open), re-rendering only
 * when its state changes. A null key reads nothing (a hook given no conversation).
 */
export const useSharedWindow = <S, C>(
  key: string | null,
  spec: (client: Client) => WindowSpec<S, C>,
): { state: WindowState<S>; shared: { readonly control: C; readonly settled: Promise<void> } | null } => {
  const { client, cache } = useColloquy()
  // A component keeps the window it has for as long as it asks the same thing, even one that
  // failed (the cache stops sharing failed windows, so a component that mounts later tries again).
  const held = useRef<{ key: string; cache: WindowCache; shared: SharedWindow<S, C> } | null>(null)
  let shared: SharedWindow<S, C> | null = null
  if (key !== null) {
    const h = held.current
    if (h !== null && h.key === key && h.cache === cache && !h.shared.released) shared = h.shared
    else {
      shared = cache.get(key, () => spec(client))
      held.current = { key, cache, shared }
    }
  }
  const getState: () => WindowState<unknown> = shared?.getState ?? idle
  const state = useSyncExternalStore(shared?.attach ?? detached, getState, getState)
  return { state: state as WindowState<S>, shared }
}
