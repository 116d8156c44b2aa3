// Types of stream-client.js: the stream client API of Motia's streaming guide (StreamClient,
// group/item subscriptions) over Motia's stream protocol, and the frames of that protocol with
// this server's additions (docs/protocol.md).

// --- the wire ---------------------------------------------------------------------------------

/** The `data` of a `join` (and, without `sinceVersion` and `syncPages`, of a `leave`). */
export interface StreamJoinData {
  streamName: string
  groupId: string
  /** An item of the group: the subscription follows that item only. */
  id?: string | null
  subscriptionId?: string
  /** (extension) The last group version taken: the server replays what came after it. */
  sinceVersion?: number
  /**
   * (extension) The client assembles a large group's sync sent in pages (`syncPage` frames,
   * the changes made meanwhile, then `synced`). Without it, a group larger than the server's
   * `STREAMS_MAX_SYNC_BYTES` is refused with a `group_too_large` error frame.
   */
  syncPages?: boolean
}

/** A frame from the client. */
export type StreamClientFrame =
  | { type: 'join'; data: StreamJoinData }
  | { type: 'leave'; data: StreamJoinData }

/** What a server frame says happened. */
export type StreamServerEvent<T = any> =
  | { type: 'sync'; data: T[] | T | null }
  | { type: 'create' | 'update' | 'delete'; data: T }
  | { type: 'event'; event: StreamCustomEvent }
  /** (extension) The end of a replay. */
  | { type: 'replayed' }
  /** (extension) Page `page` (from 0) of a large group's sync: some of its items, in order. */
  | { type: 'syncPage'; page: number; data: T[] }
  /** (extension) The end of a sync in `pages` pages and of the changes that followed them. */
  | { type: 'synced'; pages: number }
  | { type: 'unauthorized' }
  /** (extension) A client frame the server could not use, or a join it could not answer. */
  | { type: 'error'; data: { code: string; message: string } }

/** A frame from the server: always a `stream` frame. */
export interface StreamServerFrame<T = any> {
  type: 'stream'
  /** Milliseconds since the epoch; strictly increasing within a group. */
  timestamp: number
  streamName: string | null
  groupId: string | null
  /** The item the frame is about; null for one about the whole group. */
  id: string | null
  /**
   * (extension) The group's version after this change, or the version an answer (`sync`,
   * `replayed`, `synced`) brings the subscription to, or a `syncPage` was read at.
   */
  version?: number
  event: StreamServerEvent<T>
}

// --- the client -------------------------------------------------------------------------------

/** A custom event sent with `streams.<name>.send(...)`. */
export interface StreamCustomEvent<D = unknown> {
  type: string
  data: D
}

/** A server `error` frame (or a listener that threw), given to `client.on('error')`. */
export interface StreamClientError {
  /** e.g. `unknown_stream`, `invalid_frame`, `too_many_subscriptions`, `listener_error` */
  code: string
  message: string
  streamName?: string | null
  groupId?: string | null
  /** For `listener_error`: what the listener threw. */
  error?: unknown
}

/** Why an open connection was lost. */
export interface StreamDisconnectInfo {
  code: number
  reason: string
}

/** The subset of the WebSocket API the client uses (browsers' and the `ws` package's). */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
  onmessage: ((event: any) => void) | null
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

export interface StreamClientOptions {
  /** `ws://host:port` (or `wss://`); the server also accepts the `/streams/` path. */
  url: string
  /** Subprotocols to offer (after the token pair, when `token` is given). */
  protocols?: string[]
  /** A token for the server's `authenticate_stream`. */
  token?: string
  /**
   * How the token travels: as the subprotocol pair `['Authorization', token]` (the default)
   * or as the query parameter `?authToken=`.
   */
  tokenIn?: 'subprotocol' | 'query'
  /** The WebSocket class: `globalThis.WebSocket` by default; in Node, the `ws` package's. */
  WebSocket?: WebSocketConstructor | (new (...args: any[]) => any)
  /**
   * Reconnection after a lost connection: exponential backoff with jitter from
   * `initialDelay` (default 500 ms) up to `maxDelay` (default 10000 ms); `false` disables it.
   */
  reconnect?: { initialDelay?: number; maxDelay?: number } | false
  /** How long a connection attempt may take, in ms (default 10000). */
  connectTimeout?: number
}

export type StreamClientStatus = 'idle' | 'connecting' | 'open' | 'reconnecting'

/** What both kinds of subscription share. */
export interface StreamSubscriptionBase {
  readonly streamName: string
  readonly groupId: string
  readonly subscriptionId: string
  /** Whether `close()` was called. */
  readonly closed: boolean
  /** Remove a listener added with `on`. */
  off(event: string, callback: (...args: any[]) => void): void
  /** Leave: the server is told, and no listener is called any more. */
  close(): void
}

/** A subscription to every item of a group. */
export declare class StreamGroupSubscription<T = any> implements StreamSubscriptionBase {
  /** Made by `client.group()` / `client.item()`. */
  private constructor()
  readonly streamName: string
  readonly groupId: string
  readonly subscriptionId: string
  readonly closed: boolean
  /** The whole state after any change, a sync included. */
  on(event: '*', callback: (state: T[]) => void): () => void
  /**
   * The group's items, as the server sent them on (re)joining: a large group's sync comes in
   * pages, put together (with the changes made meanwhile) before it is shown, as one sync.
   */
  on(event: 'sync', callback: (state: T[]) => void): () => void
  /** The item created, updated, or deleted (its last value). */
  on(event: 'create' | 'update' | 'delete', callback: (item: T) => void): () => void
  /** A custom event sent to the group (or to one of its items). */
  on<D = unknown>(event: 'event', callback: (event: StreamCustomEvent<D>) => void): () => void
  /** The server's `on_join` refused the join. */
  on(event: 'unauthorized', callback: () => void): () => void
  off(event: string, callback: (...args: any[]) => void): void
  /** The group's items; `[]` until the first sync (never a part of a sync in pages). */
  getState(): T[]
  close(): void
}

/** A subscription to one item of a group. */
export declare class StreamItemSubscription<T = any> implements StreamSubscriptionBase {
  /** Made by `client.group()` / `client.item()`. */
  private constructor()
  readonly streamName: string
  readonly groupId: string
  readonly id: string
  readonly subscriptionId: string
  readonly closed: boolean
  /** The whole state after any change, a sync included. */
  on(event: '*', callback: (state: T | null) => void): () => void
  /** The item as the server sent it on (re)joining; `null` when there is none. */
  on(event: 'sync', callback: (state: T | null) => void): () => void
  /** The item created, updated, or deleted (its last value). */
  on(event: 'create' | 'update' | 'delete', callback: (item: T) => void): () => void
  /** A custom event sent to this item. */
  on<D = unknown>(event: 'event', callback: (event: StreamCustomEvent<D>) => void): () => void
  /** The server's `on_join` refused the join. */
  on(event: 'unauthorized', callback: () => void): () => void
  off(event: string, callback: (...args: any[]) => void): void
  /** The item; `null` until the first sync, or when it does not exist. */
  getState(): T | null
  close(): void
}

export declare class StreamClient {
  constructor(options: StreamClientOptions)
  /** `'idle'`, `'connecting'`, `'open'` or `'reconnecting'`. */
  readonly status: StreamClientStatus
  /** Whether the socket is open. */
  readonly connected: boolean
  /**
   * Open the connection and join every subscription. Rejects when this first attempt fails
   * (e.g. a handshake refused for want of a valid token); once connected, a lost connection
   * is re-opened with backoff until `disconnect()`.
   */
  connect(): Promise<void>
  /** Close the connection without reconnecting; subscriptions are kept for a later `connect()`. */
  disconnect(): void
  /** Subscribe to every item of a group. */
  group<T = any>(streamName: string, groupId: string): StreamGroupSubscription<T>
  /** Subscribe to one item of a group. */
  item<T = any>(streamName: string, groupId: string, id: string): StreamItemSubscription<T>
  /** Every time the connection opens (reconnects included). */
  on(event: 'connected', callback: () => void): () => void
  /** Every time an open connection is lost (or closed by `disconnect()`). */
  on(event: 'disconnected', callback: (info: StreamDisconnectInfo) => void): () => void
  /** A server `error` frame, or a listener that threw. */
  on(event: 'error', callback: (error: StreamClientError) => void): () => void
  /** Remove a listener added with `on`. */
  off(event: 'connected' | 'disconnected' | 'error', callback: (...args: any[]) => void): void
}

export default StreamClient
