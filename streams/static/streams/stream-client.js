// stream-client.js: the stream client of Motia's streaming guide, as one dependency-free ES
// module.
//
// Browser:  import { StreamClient } from '/static/streams/stream-client.js'
// Node:     import WebSocket from 'ws'
//           new StreamClient({ url: 'ws://127.0.0.1:8000', WebSocket })
//
//   const client = new StreamClient({ url: 'ws://localhost:8000' })
//   client.on('connected', () => ...)
//   await client.connect()
//   const todos = client.group('todo', 'todos')
//   todos.on('*', (state) => render(state))
//
// It speaks Motia's stream protocol: `join`/`leave` frames out, `stream` frames
// in. State follows exactly the rules of Motia's published clients, so both give
// the same results from the same frames:
//   - a frame goes to the subscriptions of its item (when it has an `id`) and, unless it is a
//     `sync`, to those of its group; a frame without `id` goes to group subscriptions only;
//   - an item subscription starts `null` and ignores any frame whose timestamp is not greater
//     than the last one it took; sync/create/update set the item, delete sets `null`;
//   - a group subscription starts `[]`; sync replaces the list unless older than the last
//     sync; create appends unless the id is there; update replaces the item unless its
//     timestamp is not newer than the last seen for that id; delete removes by id.
// On top of that it reconnects with backoff, re-joins every open subscription with the last
// group version it took (`sinceVersion`: the server replays the frames missed since, then
// sends a `replayed` frame, or answers with a fresh `sync` when its log no longer reaches
// back), drops a frame it already took (a replay may send one again through another
// subscription of the group), takes a large group's sync in pages (`syncPages`), assembled
// before it is shown, and reports server `error` frames.

const OPEN = 1 // WebSocket.OPEN; read as a number so that any WebSocket class works
const DEFAULT_RECONNECT = { initialDelay: 500, maxDelay: 10_000 }
const DEFAULT_CONNECT_TIMEOUT = 10_000
const MAX_GAPS = 64
// The frames that answer a join: a sync, the end of a replay, the end of a sync in pages.
const ANSWERS = new Set(['sync', 'replayed', 'synced'])

// Keys of the subscriptions' internals: reachable from the client, off their public surface.
const RECEIVE = Symbol('receive')
const UNAUTHORIZED = Symbol('unauthorized')
const JOIN_DATA = Symbol('joinData')
const ROOM = Symbol('room')

/** The key of a group's (or an item's) subscriptions; JSON so that no name can collide. */
function roomKey(streamName, groupId, id) {
  return id ? JSON.stringify([streamName, groupId, id]) : JSON.stringify([streamName, groupId])
}

function newSubscriptionId() {
  const cryptoApi = globalThis.crypto
  if (cryptoApi?.randomUUID) return cryptoApi.randomUUID()
  // crypto.randomUUID exists only in secure contexts (https, localhost); plain http pages
  // still have getRandomValues.
  const bytes = new Uint8Array(16)
  if (cryptoApi?.getRandomValues) cryptoApi.getRandomValues(bytes)
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256)
  bytes[6] = (bytes[6] & 0x0f) | 0x40
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)]
  return `${parts.join('-')}-${hex.slice(20)}`
}

/**
 * The group versions a subscription took: the last one, and the gaps below it. Frames come in
 * version order, save one the server released late (taken: it falls in a gap) and one a
 * replay sends again (dropped). At most MAX_GAPS gaps are kept, the oldest forgotten first.
 */
class Versions {
  constructor() {
    this.last = null
    this.gaps = [] // inclusive [low, high] ranges, oldest first
  }

  /** Record a frame's version; false if it was taken already. */
  take(version) {
    if (this.last === null || version > this.last) {
      if (this.last !== null && version > this.last + 1) {
        this.gaps.push([this.last + 1, version - 1])
        if (this.gaps.length > MAX_GAPS) this.gaps.splice(0, this.gaps.length - MAX_GAPS)
      }
      this.last = version
      return true
    }
    const index = this.gaps.findIndex(([low, high]) => low <= version && version <= high)
    if (index < 0) return false
    const [low, high] = this.gaps[index]
    const rest = [
      [low, version - 1],
      [version + 1, high],
    ].filter(([a, b]) => a <= b)
    this.gaps.splice(index, 1, ...rest)
    return true
  }

  /** A sync as of `version`: every earlier change is in it. */
  reset(version) {
    this.last = version
    this.gaps = []
  }
}

/**
 * Whether a subscription takes a frame, as far as versions go: not one it took already, nor
 * the `replayed` frame that ends a replay (it only moves the version on).
 */
function takeVersion(versions, message) {
  const { version, event } = message
  const versioned = Number.isInteger(version)
  if (event.type === 'replayed') {
    if (versioned) versions.take(version) // any frame of its own up to there came before it
    return false
  }
  if (!versioned || event.type === 'sync') return true
  return versions.take(version)
}

/** Listeners by event name; a throwing listener is reported and never stops the others. */
class Listeners {
  constructor(report) {
    this.map = new Map()
    this.report = report
  }

  add(event, callback) {
    if (typeof callback !== 'function') throw new TypeError('a listener must be a function')
    if (!this.map.has(event)) this.map.set(event, new Set())
    this.map.get(event).add(callback)
    return () => this.remove(event, callback)
  }

  remove(event, callback) {
    this.map.get(event)?.delete(callback)
  }

  has(event) {
    return (this.map.get(event)?.size ?? 0) > 0
  }

  emit(event, value) {
    const callbacks = this.map.get(event)
    if (!callbacks) return
    for (const callback of [...callbacks]) {
      try {
        callback(value)
      } catch (error) {
        this.report(error, event)
      }
    }
  }

  clear() {
    this.map.clear()
  }
}

/** What the two kinds of subscription share: listeners, state, close(). */
class StreamSubscription {
  constructor(client, data, initialState) {
    /** The stream's name. */
    this.streamName = data.streamName
    /** The group's id. */
    this.groupId = data.groupId
    /** Sent with every join and leave of this subscription. */
    this.subscriptionId = data.subscriptionId
    this._client = client
    this._state = initialState
    this._versions = new Versions()
    this._closed = false
    // The server's answer to the last join: 'waiting', 'joined' (a sync, or the end of a
    // replay) or 'refused'.
    this._joinState = 'waiting'
    this._joinSeq = 0 // orders the joins of a room: the server answers them in order
    this._listeners = new Listeners((error, event) => client._reportListenerError(error, event))
    this[JOIN_DATA] = data
    this[ROOM] = roomKey(data.streamName, data.groupId, data.id)
  }

  /**
   * Listen to this subscription. `'*'` receives the whole state after any change (a sync
   * included); `'sync'` the state a sync brought; `'create'`, `'update'` and `'delete'` the
   * item; `'event'` a custom event `{type, data}`; `'unauthorized'` is called when the
   * server's `on_join` refuses the join.
   * @param {'*'|'sync'|'create'|'update'|'delete'|'event'|'unauthorized'} event
   * @param {Function} callback
   * @returns {() => void} a function that removes this listener
   */
  on(event, callback) {
    if (this._closed) return () => {}
    return this._listeners.add(event, callback)
  }

  /**
   * Remove a listener added with {@link on}.
   * @param {string} event
   * @param {Function} callback
   */
  off(event, callback) {
    this._listeners.remove(event, callback)
  }

  /** The current state: the group's items, or the item (`null` when there is none). */
  getState() {
    return this._state
  }

  /** Whether {@link close} was called. */
  get closed() {
    return this._closed
  }

  /** Leave the stream: the server is told, and no listener is called any more. */
  close() {
    if (this._closed) return
    this._closed = true
    this._listeners.clear()
    this._client._detach(this)
  }

  /** Set the state as Motia's `setState` does: then the kind's listeners, then '*'. */
  _change(state, event, value) {
    this._state = state
    this._listeners.emit(event, value)
    this._listeners.emit('*', state)
  }

  _customEvent(event) {
    // Motia hands custom events to listeners and leaves the state alone.
    this._listeners.emit('event', event)
  }

  [UNAUTHORIZED]() {
    this._joinState = 'refused'
    this._listeners.emit('unauthorized')
  }
}

/**
 * A group's items as Motia's client keeps them through create, update and delete frames:
 * create appends unless the id is there; update replaces the item unless its timestamp is not
 * newer than the last seen for that id; delete removes by id.
 */
class GroupItems {
  constructor(items = [], lastTimestamp = 0) {
    this.items = items
    this.lastTimestamp = lastTimestamp
    this.itemTimestamps = new Map()
  }

  /** Apply a change frame: `[listener event, value]`, or null when it changes nothing. */
  apply(message) {
    const { event, timestamp } = message
    const id = event.data?.id
    switch (event.type) {
      case 'create':
        if (this.items.some((item) => item.id === id)) return null
        this.items = [...this.items, event.data]
        return ['create', event.data]
      case 'update': {
        const seen = this.itemTimestamps.get(id)
        if (seen && seen >= timestamp) return null
        this.lastTimestamp = timestamp
        this.itemTimestamps.set(id, timestamp)
        this.items = this.items.map((item) => (item.id === id ? event.data : item))
        return ['update', event.data]
      }
      case 'delete':
        this.lastTimestamp = timestamp
        this.itemTimestamps.set(id, timestamp)
        this.items = this.items.filter((item) => item.id !== id)
        return ['delete', event.data]
      default:
        return null
    }
  }
}

const CHANGES = new Set(['create', 'update', 'delete'])

/**
 * A subscription to every item of a group; its state is the list of items.
 *
 * A large group's sync comes in pages (the join says it takes them: `syncPages`): `syncPage`
 * frames numbered from 0, then the changes made meanwhile, then `synced` with the number of
 * pages. They are assembled apart, and the whole becomes the state at `synced`, as one sync:
 * a part of the group is never shown as the whole.
 */
export class StreamGroupSubscription extends StreamSubscription {
  constructor(client, data) {
    super(client, data, [])
    this._items = new GroupItems()
    this._pending = null // the sync being assembled from pages
    this._pendingPages = 0
  }

  [RECEIVE](message) {
    const { event, timestamp } = message
    if (event.type === 'syncPage' || event.type === 'synced') {
      this._takePage(message)
      return
    }
    if (this._pending && CHANGES.has(event.type)) {
      this._pending.apply(message) // a change made while the pages were read
      return
    }
    if (!takeVersion(this._versions, message)) return
    switch (event.type) {
      case 'sync': {
        this._pending = null // a sync in one frame stands for any sync in pages
        if (timestamp < this._items.lastTimestamp) return
        if (Number.isInteger(message.version)) this._versions.reset(message.version)
        const items = Array.isArray(event.data) ? event.data : []
        this._items = new GroupItems(items, timestamp)
        this._change(items, 'sync', items)
        return
      }
      case 'event':
        this._customEvent(event.event)
        return
      default: {
        // Anything but a change leaves a group's state alone, as in Motia's client.
        const change = this._items.apply(message)
        if (change) this._change(this._items.items, ...change)
      }
    }
  }

  _takePage(message) {
    const { event, timestamp } = message
    let pending = this._pending
    if (event.type === 'syncPage') {
      if (event.page === 0) {
        pending = this._pending = new GroupItems([], timestamp)
        this._pendingPages = 0
      }
      if (!pending || event.page !== this._pendingPages) {
        this._pending = null // a page missing: this sync cannot be whole
        return
      }
      const items = Array.isArray(event.data) ? event.data : []
      for (const item of items) pending.items.push(item) // (not shown until synced)
      pending.lastTimestamp = Math.max(pending.lastTimestamp, timestamp)
      this._pendingPages += 1
      return
    }
    this._pending = null
    if (!pending || event.pages !== this._pendingPages) return
    if (Number.isInteger(message.version)) this._versions.reset(message.version)
    pending.lastTimestamp = Math.max(pending.lastTimestamp, timestamp)
    this._items = pending
    this._change(pending.items, 'sync', pending.items)
  }
}

/** A subscription to one item of a group; its state is the item, or `null`. */
export class StreamItemSubscription extends StreamSubscription {
  constructor(client, data) {
    super(client, data, null)
    /** The item's id. */
    this.id = data.id
    this._lastTimestamp = 0
  }

  [RECEIVE](message) {
    const { event, timestamp } = message
    if (!takeVersion(this._versions, message)) return
    const synced = event.type === 'sync' && Number.isInteger(message.version)
    // Every frame of the item counts, custom events too: Motia's rule.
    if (timestamp <= this._lastTimestamp) {
      // The item is as fresh as the sync already: so as of its version too.
      if (synced) this._versions.take(message.version)
      return
    }
    this._lastTimestamp = timestamp
    switch (event.type) {
      case 'sync':
        if (synced) this._versions.reset(message.version)
        this._change(event.data ?? null, 'sync', event.data ?? null)
        return
      case 'create':
      case 'update':
        this._change(event.data ?? null, event.type, event.data)
        return
      case 'delete':
        this._change(null, 'delete', event.data)
        return
      case 'event':
        this._customEvent(event.event)
        return
      default:
    }
  }
}

/**
 * A connection to a stream server, and the subscriptions made through it.
 *
 * Options: `url` (ws:// or wss://), `protocols` (subprotocols to offer), `token` (sent as the
 * subprotocol pair `['Authorization', token]`, or as `?authToken=` with `tokenIn: 'query'`:
 * browsers cannot send an Authorization header),
 * `WebSocket` (the class to use; `globalThis.WebSocket` by default, `ws`'s in Node),
 * `reconnect` (`{initialDelay, maxDelay}` in ms, or `false`) and `connectTimeout` (ms).
 */
export class StreamClient {
  /**
   * @param {object} options
   * @param {string} options.url
   * @param {string[]} [options.protocols]
   * @param {string} [options.token]
   * @param {'subprotocol'|'query'} [options.tokenIn]
   * @param {new (url: string, protocols?: string[]) => any} [options.WebSocket]
   * @param {{initialDelay?: number, maxDelay?: number}|false} [options.reconnect]
   * @param {number} [options.connectTimeout]
   */
  constructor(options) {
    if (!options || typeof options.url !== 'string') {
      throw new TypeError(
        'StreamClient needs options with a url, e.g. {url: "ws://localhost:8000"}',
      )
    }
    const tokenIn = options.tokenIn ?? 'subprotocol'
    if (tokenIn !== 'subprotocol' && tokenIn !== 'query') {
      throw new TypeError(
        `tokenIn must be 'subprotocol' or 'query', not ${JSON.stringify(tokenIn)}`,
      )
    }
    this._url = options.url
    this._protocols = [...(options.protocols ?? [])]
    this._token = options.token ?? null
    this._tokenIn = tokenIn
    // Looked up at connect(), not here: constructing a client must work where there is no
    // WebSocket (server-side rendering), as long as it is not connected there.
    this._WebSocket = options.WebSocket ?? null
    this._reconnect =
      options.reconnect === false ? null : { ...DEFAULT_RECONNECT, ...(options.reconnect ?? {}) }
    this._connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT

    this._listeners = new Listeners((error, event) => this._reportListenerError(error, event))
    this._rooms = new Map() // room key -> Set of subscriptions
    this._socket = null
    // 'idle' (not connected, not trying), 'connecting' (first attempt of a connect()),
    // 'open', 'reconnecting' (lost; waiting for or making another attempt).
    this._status = 'idle'
    this._attempts = 0
    this._retryTimer = null
    this._connectTimer = null
    this._joinSeq = 0
    this._pending = null // {promise, resolve, reject} of connect() calls waiting for 'open'
  }

  /** `'idle'`, `'connecting'`, `'open'` or `'reconnecting'`. */
  get status() {
    return this._status
  }

  /** Whether the socket is open. */
  get connected() {
    return this._status === 'open'
  }

  /**
   * Open the connection; resolves once it is open and every subscription has been joined
   * (or when {@link disconnect} cancels it first). If this first attempt fails (the server
   * refuses the handshake, e.g. without a valid token, or cannot be reached) the promise
   * rejects and the client stays disconnected. Once connected, a lost connection is
   * re-opened with backoff until {@link disconnect}.
   * @returns {Promise<void>}
   */
  connect() {
    if (this._status === 'open') return Promise.resolve()
    if (this._pending) return this._pending.promise
    const pending = { promise: null, resolve: (_value) => {}, reject: (_error) => {} }
    pending.promise = new Promise((resolve, reject) => {
      pending.resolve = resolve
      pending.reject = reject
    })
    this._pending = pending
    if (this._status === 'reconnecting') {
      // Waiting for the next attempt: make it now.
      clearTimeout(this._retryTimer)
      this._retryTimer = null
      if (!this._socket) this._open()
    } else {
      this._status = 'connecting'
      this._open()
    }
    return pending.promise
  }

  /**
   * Close the connection, and do not reconnect. Subscriptions stay: a later
   * {@link connect} joins them again.
   */
  disconnect() {
    const wasOpen = this._status === 'open'
    clearTimeout(this._retryTimer)
    this._retryTimer = null
    this._attempts = 0
    this._status = 'idle'
    clearTimeout(this._connectTimer)
    this._connectTimer = null
    const socket = this._socket
    this._socket = null
    if (socket) {
      try {
        socket.close(1000)
      } catch {
        // already closing
      }
    }
    // A connect() cancelled by the caller's own disconnect() is no failure: it resolves, so
    // that the guide's `client.connect()` ... `client.disconnect()` (a React effect and its
    // cleanup) leaves no unhandled rejection behind.
    this._settle(null)
    if (wasOpen) this._listeners.emit('disconnected', { code: 1000, reason: 'disconnect()' })
  }

  /**
   * Subscribe to every item of a group.
   * @param {string} streamName
   * @param {string} groupId
   * @returns {StreamGroupSubscription}
   */
  group(streamName, groupId) {
    checkName('streamName', streamName)
    checkName('groupId', groupId)
    const data = { streamName, groupId, subscriptionId: newSubscriptionId() }
    return this._attach(new StreamGroupSubscription(this, data))
  }

  /**
   * Subscribe to one item of a group.
   * @param {string} streamName
   * @param {string} groupId
   * @param {string} id
   * @returns {StreamItemSubscription}
   */
  item(streamName, groupId, id) {
    checkName('streamName', streamName)
    checkName('groupId', groupId)
    checkName('id', id)
    const data = { streamName, groupId, id, subscriptionId: newSubscriptionId() }
    return this._attach(new StreamItemSubscription(this, data))
  }

  /**
   * Listen to the connection: `'connected'` on every open (reconnects included),
   * `'disconnected'` on every loss of an open connection (`{code, reason}`), `'error'` for
   * the server's `error` frames (`{code, message, streamName, groupId}`) and for listeners
   * that threw (`{code: 'listener_error', message, error}`).
   * @param {'connected'|'disconnected'|'error'} event
   * @param {Function} callback
   * @returns {() => void} a function that removes this listener
   */
  on(event, callback) {
    return this._listeners.add(event, callback)
  }

  /**
   * Remove a listener added with {@link on}.
   * @param {string} event
   * @param {Function} callback
   */
  off(event, callback) {
    this._listeners.remove(event, callback)
  }

  // --- subscriptions --------------------------------------------------------------------

  _attach(subscription) {
    const room = subscription[ROOM]
    if (!this._rooms.has(room)) this._rooms.set(room, new Set())
    this._rooms.get(room).add(subscription)
    if (this._status === 'open') this._join(subscription)
    return subscription
  }

  _detach(subscription) {
    const room = subscription[ROOM]
    const members = this._rooms.get(room)
    members?.delete(subscription)
    if (members?.size === 0) this._rooms.delete(room)
    this._send({ type: 'leave', data: subscription[JOIN_DATA] })
  }

  _join(subscription) {
    this._joinSeq += 1
    subscription._joinState = 'waiting'
    subscription._joinSeq = this._joinSeq
    // A large group's sync in pages; from the last version it took, if any: the server
    // replays what it missed since.
    const since = subscription._versions.last
    const data = { ...subscription[JOIN_DATA], syncPages: true }
    if (since !== null) data.sinceVersion = since
    this._send({ type: 'join', data })
  }

  _send(frame) {
    const socket = this._socket
    if (this._status !== 'open' || !socket || socket.readyState !== OPEN) return
    socket.send(JSON.stringify(frame))
  }

  // --- the socket -----------------------------------------------------------------------

  _socketUrl() {
    if (!this._token || this._tokenIn !== 'query') return this._url
    const url = new URL(this._url)
    url.searchParams.set('authToken', this._token)
    return url.toString()
  }

  _offeredProtocols() {
    // The server echoes the first offer, which browsers and `ws` require; the token pair
    // goes first because the server reads the token from the first two.
    const token =
      this._token && this._tokenIn === 'subprotocol' ? ['Authorization', this._token] : []
    return [...token, ...this._protocols]
  }

  _open() {
    const WebSocketClass = this._WebSocket ?? globalThis.WebSocket
    if (typeof WebSocketClass !== 'function') {
      this._attemptFailed(
        new Error("no WebSocket implementation: pass {WebSocket} (in Node, the ws package's)"),
      )
      return
    }
    let socket
    try {
      const protocols = this._offeredProtocols()
      socket = protocols.length
        ? new WebSocketClass(this._socketUrl(), protocols)
        : new WebSocketClass(this._socketUrl())
    } catch (error) {
      // A malformed URL or subprotocol throws here in browsers and in `ws`.
      this._attemptFailed(error)
      return
    }
    this._socket = socket
    let failure = null
    // The handlers stay attached for the socket's whole life and ignore it once it is no
    // longer the current one (`ws` throws on an 'error' nobody listens to).
    socket.onopen = () => {
      if (this._socket !== socket) return
      clearTimeout(this._connectTimer)
      this._opened()
    }
    socket.onerror = (event) => {
      failure ??= new Error(event?.message || event?.error?.message || 'WebSocket error')
    }
    socket.onclose = (event) => {
      if (this._socket !== socket) return
      clearTimeout(this._connectTimer)
      this._socketClosed(failure, event?.code ?? 1006, event?.reason ?? '')
    }
    socket.onmessage = (event) => {
      if (this._socket !== socket) return
      this._message(event.data)
    }
    // A handshake that never completes would otherwise hang connect() forever.
    clearTimeout(this._connectTimer)
    this._connectTimer = setTimeout(() => {
      if (this._socket !== socket) return
      failure = new Error(`no connection within ${this._connectTimeout} ms`)
      try {
        socket.close()
      } catch {
        // some implementations throw when closing a socket that is not open yet
      }
      // Do not wait for a close event: not every implementation sends one here.
      this._socketClosed(failure, 1006, '')
    }, this._connectTimeout)
  }

  _opened() {
    this._status = 'open'
    this._attempts = 0
    for (const members of this._rooms.values()) {
      for (const subscription of members) this._join(subscription)
    }
    this._settle(null)
    this._listeners.emit('connected')
  }

  _socketClosed(failure, code, reason) {
    this._socket = null
    if (this._status === 'open') {
      this._listeners.emit('disconnected', { code, reason })
      this._retry()
      return
    }
    const detail = failure?.message ?? `closed with code ${code}${reason ? `: ${reason}` : ''}`
    this._attemptFailed(new Error(`could not connect to ${this._url}: ${detail}`))
  }

  /** An attempt that never opened: the first one fails connect(); later ones retry. */
  _attemptFailed(error) {
    this._socket = null
    if (this._status === 'connecting') {
      this._status = 'idle'
      this._settle(error)
      return
    }
    if (this._status === 'reconnecting') {
      this._settle(error) // a connect() called while reconnecting learns of this attempt
      this._retry()
    }
  }

  _retry() {
    if (!this._reconnect) {
      this._status = 'idle'
      return
    }
    this._status = 'reconnecting'
    const { initialDelay, maxDelay } = this._reconnect
    const ceiling = Math.min(maxDelay, initialDelay * 2 ** this._attempts)
    this._attempts += 1
    // Half fixed, half random: clients dropped together by a restart come back spread out.
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null
      this._open()
    }, delay)
  }

  _settle(error) {
    const pending = this._pending
    this._pending = null
    if (!pending) return
    if (error) pending.reject(error)
    else pending.resolve()
  }

  // --- frames ---------------------------------------------------------------------------

  _message(text) {
    if (typeof text !== 'string') return // the protocol has text frames only
    let message
    try {
      message = JSON.parse(text)
    } catch {
      this._error({ code: 'invalid_frame', message: 'the server sent a frame that is not JSON' })
      return
    }
    if (message?.type !== 'stream' || typeof message.event !== 'object' || !message.event) return
    const { streamName, groupId, id, event } = message
    if (event.type === 'error') {
      // Never routed to a subscription: an error changes no state.
      this._error({ ...(event.data ?? {}), streamName, groupId })
      return
    }
    const room = roomKey(streamName, groupId, id)
    const answer = ANSWERS.has(event.type)
    if (event.type === 'unauthorized' || answer) {
      // The answer to a join (`replayed` ends a replay, `synced` a sync in pages). Frames name
      // no subscription, but the server answers the joins of a socket in order: it is for the
      // oldest join of that group or item still waiting.
      const answered = this._oldestWaiting(room)
      if (event.type === 'unauthorized') {
        answered?.[UNAUTHORIZED]()
        return
      }
      if (answered) answered._joinState = 'joined'
    }
    // Motia's routing: the frame's own room, then its group's for an item frame (not an
    // answer to the item's join).
    this._deliver(room, message)
    if (id && !answer) this._deliver(roomKey(streamName, groupId), message)
  }

  _deliver(room, message) {
    const members = this._rooms.get(room)
    if (!members) return
    for (const subscription of [...members]) {
      // A refused subscription gets nothing from the server: nor from its neighbours here.
      if (!subscription.closed && subscription._joinState !== 'refused') {
        subscription[RECEIVE](message)
      }
    }
  }

  _oldestWaiting(room) {
    let oldest = null
    for (const subscription of this._rooms.get(room) ?? []) {
      if (subscription._joinState !== 'waiting') continue
      if (!oldest || subscription._joinSeq < oldest._joinSeq) oldest = subscription
    }
    return oldest
  }

  _error(error) {
    if (this._listeners.has('error')) this._listeners.emit('error', error)
    else console.warn('stream server error:', error)
  }

  _reportListenerError(error, event) {
    const report = {
      code: 'listener_error',
      message: `a '${event}' listener threw: ${error?.message ?? error}`,
      error,
    }
    // An 'error' listener that throws is not reported to itself again.
    if (event !== 'error' && this._listeners.has('error')) this._listeners.emit('error', report)
    else console.error(report.message, error)
  }
}

function checkName(field, value) {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${field} must be a non-empty string`)
  }
}

export default StreamClient
