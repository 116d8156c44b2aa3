// Tests of streams/static/streams/stream-client.js, run with `node --test tests/js/`.
//
// 1. Same state as Motia's published client: random frame sequences go to both clients
//    (through fake sockets), and every state, change notification and custom event must
//    match. Needs nothing but tests/e2e/node_modules.
// 2. Against real servers, started by tests/test_js_client.py, which passes them in:
//      STREAM_CLIENT_HTTP_URL, STREAM_CLIENT_WS_URL            a server
//      STREAM_CLIENT_CONTROL_URL                             POST /restart restarts it (same
//                                                            port, same database)
//      STREAM_CLIENT_AUTH_HTTP_URL, STREAM_CLIENT_AUTH_WS_URL  a server that checks tokens
//      STREAM_CLIENT_TOKEN                                   a valid token for it
//    Without them these tests are skipped. They run in order: the restart comes last.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'

import { StreamClient } from '../../streams/static/streams/stream-client.js'

const e2eRequire = createRequire(new URL('../e2e/package.json', import.meta.url))
const WebSocket = e2eRequire('ws')
const motia = await import(
  new URL('../e2e/node_modules/@motiadev/stream-client/dist/index.js', import.meta.url)
)

const env = process.env
const HTTP_URL = env.STREAM_CLIENT_HTTP_URL
const WS_URL = env.STREAM_CLIENT_WS_URL
const CONTROL_URL = env.STREAM_CLIENT_CONTROL_URL
const AUTH_HTTP_URL = env.STREAM_CLIENT_AUTH_HTTP_URL
const AUTH_WS_URL = env.STREAM_CLIENT_AUTH_WS_URL
const TOKEN = env.STREAM_CLIENT_TOKEN
const NO_SERVER = !HTTP_URL || !WS_URL ? 'no server: run through tests/test_js_client.py' : false
const NO_AUTH_SERVER =
  !AUTH_HTTP_URL || !AUTH_WS_URL || !TOKEN
    ? 'no token server: run through tests/test_js_client.py'
    : false
const NO_RESTART = NO_SERVER || (!CONTROL_URL && 'nothing can restart the server')

const WAIT = 5000 // ms for any one expected happening
const TEST_TIMEOUT = 60_000

// --- helpers ----------------------------------------------------------------------------------

/** Poll `check` until it returns without throwing; fail with its last error after `timeout`. */
async function eventually(check, timeout = WAIT) {
  const deadline = Date.now() + timeout
  for (;;) {
    try {
      return check()
    } catch (error) {
      if (Date.now() > deadline) {
        error.message = `still failing after ${timeout} ms: ${error.message}`
        throw error
      }
    }
    await sleep(10)
  }
}

const KINDS = ['*', 'sync', 'create', 'update', 'delete', 'event', 'unauthorized']

/** A client for test `t`: disconnected when the test ends, however it ends. */
function clientFor(t, options) {
  const client = new StreamClient(options)
  t.after(() => client.disconnect())
  return client
}

/** Everything a subscription's listeners receive, by kind. */
function record(subscription) {
  const seen = Object.fromEntries(KINDS.map((kind) => [kind, []]))
  for (const kind of KINDS) subscription.on(kind, (value) => seen[kind].push(value))
  return seen
}

/** Counts of the client's connection events, and the errors it reports. */
function watch(client) {
  const seen = { connected: 0, disconnected: [], errors: [] }
  client.on('connected', () => {
    seen.connected += 1
  })
  client.on('disconnected', (info) => seen.disconnected.push(info))
  client.on('error', (error) => seen.errors.push(error))
  return seen
}

/** `ws`'s WebSocket, recording every socket made and every frame sent. */
function spyingWebSocket() {
  const spy = { sockets: [], sent: [] }
  class SpyingWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols)
      spy.sockets.push({ url, protocols, socket: this })
    }

    send(data) {
      spy.sent.push(JSON.parse(data))
      super.send(data)
    }
  }
  return { spy, SpyingWebSocket }
}

async function call(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : null }
}

async function createTodo(description, base = HTTP_URL) {
  const response = await call(base, 'POST', '/todos', { description })
  assert.equal(response.status, 201, JSON.stringify(response.body))
  return response.body.todo
}

async function completeTodo(id) {
  const response = await call(HTTP_URL, 'PATCH', `/todos/${id}/complete`)
  assert.equal(response.status, 200, JSON.stringify(response.body))
}

async function deleteTodo(id) {
  assert.equal((await call(HTTP_URL, 'DELETE', `/todos/${id}`)).status, 204)
}

async function listTodos() {
  const response = await call(HTTP_URL, 'GET', '/todos')
  assert.equal(response.status, 200)
  return response.body.todos
}

async function notify(groupId, message) {
  const response = await call(HTTP_URL, 'POST', '/notify', { groupId, message })
  assert.equal(response.status, 200, JSON.stringify(response.body))
}

/** What PATCH /todos/:id/complete makes of a todo. */
function assertCompleted(todo, original) {
  assert.ok(todo.completedAt, `not completed: ${JSON.stringify(todo)}`)
  assert.deepEqual(todo.metadata, { completedBy: 'user-123' })
  const { completedAt, metadata, ...rest } = todo
  assert.deepEqual(rest, original)
}

// --- 1. the same state as Motia's client --------------------------------------------------------

/** A WebSocket that the test opens and feeds frames to by hand. */
class FakeWebSocket {
  static last = null

  constructor(url, protocols) {
    this.url = url
    this.protocols = protocols
    this.readyState = 0
    this.sent = []
    FakeWebSocket.last = this
  }

  send(data) {
    this.sent.push(JSON.parse(data))
  }

  close() {
    this.readyState = 3
  }

  open() {
    this.readyState = 1
    this.onopen?.({})
  }

  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
}

/** A frame of group `g` of stream `s` at `version` (its timestamp follows it). */
function versioned(version, id, event) {
  return { type: 'stream', timestamp: 1000 + version, streamName: 's', groupId: 'g', id, version, event }
}

/** Motia's `Stream` on a fake adapter, fed by hand. */
function motiaStream() {
  let deliver = null
  const adapter = {
    onMessage: (callback) => {
      deliver = callback
    },
    onOpen: () => {},
    onClose: () => {},
    isOpen: () => true,
    send: () => {},
    close: () => {},
  }
  const stream = new motia.Stream(() => adapter)
  return { stream, receive: (frame) => deliver(JSON.stringify(frame)) }
}

/** A small seeded generator (mulberry32), so that a failing sequence can be replayed. */
function random(seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n) => Math.floor(next() * n)
  const pick = (list) => list[int(list.length)]
  return { next, int, pick }
}

const IDS = ['a', 'b', 'c']
const CUSTOM_TYPES = ['custom', 'todo']

/** A random frame of group `g1` or `g2` of stream `s`, with timestamps that often collide. */
function randomFrame(rng, step) {
  const groupId = rng.next() < 0.85 ? 'g1' : 'g2'
  const item = (id) => ({ id, n: rng.int(1000) })
  const timestamp = 1000 + step + rng.int(7) - 3 // mostly rising, sometimes late or equal
  // Versions in order, as the server sends them: Motia's client ignores them, and ours must
  // then keep the same states.
  const frame = (id, event) => ({
    type: 'stream',
    timestamp,
    streamName: 's',
    groupId,
    id,
    version: step + 1,
    event,
  })
  const kind = rng.pick([
    'sync',
    'syncItem',
    'create',
    'update',
    'update',
    'delete',
    'event',
    'error',
  ])
  const id = rng.pick(IDS)
  switch (kind) {
    case 'sync':
      return frame(null, { type: 'sync', data: IDS.filter(() => rng.next() < 0.5).map(item) })
    case 'syncItem':
      return frame(id, { type: 'sync', data: rng.next() < 0.7 ? item(id) : null })
    case 'event': {
      const custom = { type: rng.pick(CUSTOM_TYPES), data: { n: rng.int(1000) } }
      return frame(rng.next() < 0.5 ? null : id, { type: 'event', event: custom })
    }
    case 'error':
      return frame(null, { type: 'error', data: { code: 'invalid_frame', message: 'x' } })
    default:
      return frame(id, { type: kind, data: item(id) })
  }
}

describe("the same state as Motia's published client", () => {
  test('for random frame sequences: states, change notifications and custom events', () => {
    for (let seed = 1; seed <= 300; seed += 1) {
      const rng = random(seed)
      const ours = new StreamClient({
        url: 'ws://fake',
        WebSocket: FakeWebSocket,
        reconnect: false,
      })
      ours.on('error', () => {}) // the random error frames
      const theirs = motiaStream()
      const pairs = []
      const follow = (label, mine, motias) => {
        const log = { label, ours: { changes: 0, events: [] }, motia: { changes: 0, events: [] } }
        mine.on('*', () => {
          log.ours.changes += 1
        })
        mine.on('event', (event) => log.ours.events.push(event))
        motias.addChangeListener(() => {
          log.motia.changes += 1
        })
        for (const type of CUSTOM_TYPES) {
          motias.onEvent(type, (data) => log.motia.events.push({ type, data }))
        }
        pairs.push({ mine, motias, log })
      }
      follow('group g1', ours.group('s', 'g1'), theirs.stream.subscribeGroup('s', 'g1'))
      follow('group g2', ours.group('s', 'g2'), theirs.stream.subscribeGroup('s', 'g2'))
      for (const id of IDS) {
        follow(
          `item g1/${id}`,
          ours.item('s', 'g1', id),
          theirs.stream.subscribeItem('s', 'g1', id),
        )
      }
      ours.connect()
      FakeWebSocket.last.open()
      const frames = []
      for (let step = 0; step < 60; step += 1) {
        const frame = randomFrame(rng, step)
        frames.push(frame)
        FakeWebSocket.last.receive(frame)
        theirs.receive(frame)
        for (const { mine, motias, log } of pairs) {
          try {
            assert.deepEqual(mine.getState(), motias.getState(), 'states differ')
            assert.deepEqual(log.ours, log.motia, 'change notifications or custom events differ')
          } catch (error) {
            error.message += ` (seed ${seed}, ${log.label}, after ${JSON.stringify(frames)})`
            throw error
          }
        }
      }
      ours.disconnect()
    }
  })

  test('subscriptions made before connect() are joined when the socket opens', async () => {
    const client = new StreamClient({ url: 'ws://fake', WebSocket: FakeWebSocket })
    const group = client.group('todo', 'todos')
    const item = client.item('todo', 'todos', 'x')
    const connecting = client.connect()
    const socket = FakeWebSocket.last
    assert.deepEqual(socket.sent, [])
    socket.open()
    await connecting
    assert.deepEqual(socket.sent, [
      {
        type: 'join',
        data: {
          streamName: 'todo',
          groupId: 'todos',
          subscriptionId: group.subscriptionId,
          syncPages: true,
        },
      },
      {
        type: 'join',
        data: {
          streamName: 'todo',
          groupId: 'todos',
          id: 'x',
          subscriptionId: item.subscriptionId,
          syncPages: true,
        },
      },
    ])
    item.close()
    assert.deepEqual(socket.sent.at(-1), {
      type: 'leave',
      data: { streamName: 'todo', groupId: 'todos', id: 'x', subscriptionId: item.subscriptionId },
    })
    client.disconnect()
  })

  test("'unauthorized' goes to the refused subscription only, which then hears nothing", async () => {
    const client = new StreamClient({ url: 'ws://fake', WebSocket: FakeWebSocket })
    const first = client.group('s', 'g')
    const second = client.group('s', 'g')
    const seenFirst = record(first)
    const seenSecond = record(second)
    client.connect()
    const socket = FakeWebSocket.last
    socket.open()
    const frame = (timestamp, event) => ({
      type: 'stream',
      timestamp,
      streamName: 's',
      groupId: 'g',
      id: null,
      event,
    })
    socket.receive(frame(5, { type: 'sync', data: [] })) // the answer to the first join
    socket.receive(frame(6, { type: 'unauthorized' })) // the answer to the second
    socket.receive(frame(7, { type: 'create', data: { id: 'a' } }))
    assert.equal(seenFirst.unauthorized.length, 0)
    assert.equal(seenSecond.unauthorized.length, 1)
    assert.deepEqual(first.getState(), [{ id: 'a' }])
    assert.deepEqual(second.getState(), [])
    client.disconnect()
  })
})

describe('the connection, on fake sockets', () => {
  test('globalThis.WebSocket is the default; without any, connect() says what to pass', async () => {
    const saved = globalThis.WebSocket
    try {
      globalThis.WebSocket = FakeWebSocket
      const client = new StreamClient({ url: 'ws://fake/', token: 'tok' })
      const connecting = client.connect()
      assert.deepEqual(FakeWebSocket.last.protocols, ['Authorization', 'tok'])
      FakeWebSocket.last.open()
      await connecting
      client.disconnect()
      delete globalThis.WebSocket
      const without = new StreamClient({ url: 'ws://fake/' }) // constructing needs none
      await assert.rejects(without.connect(), /no WebSocket implementation: pass \{WebSocket\}/)
      assert.equal(without.status, 'idle')
    } finally {
      globalThis.WebSocket = saved
    }
  })

  test('a lost connection is retried with growing delays until one opens; then re-joined', async () => {
    const client = new StreamClient({
      url: 'ws://fake',
      WebSocket: FakeWebSocket,
      reconnect: { initialDelay: 40, maxDelay: 80 },
    })
    const connection = watch(client)
    const group = client.group('s', 'g')
    const connecting = client.connect()
    const first = FakeWebSocket.last
    first.open()
    await connecting
    assert.equal(connection.connected, 1)

    first.readyState = 3
    first.onclose({ code: 1006, reason: '' })
    assert.equal(client.status, 'reconnecting')
    assert.deepEqual(connection.disconnected, [{ code: 1006, reason: '' }])
    // Attempts that never open: each is retried, none is another 'disconnected'.
    const attempts = [first]
    const started = Date.now()
    while (attempts.length < 4) {
      const next = await eventually(() => {
        assert.notEqual(FakeWebSocket.last, attempts.at(-1))
        return FakeWebSocket.last
      })
      attempts.push(next)
      if (attempts.length < 4) next.onclose({ code: 1006, reason: '' })
    }
    // Delays of 20-40, 40-80 and 40-80 ms (half fixed, half random, capped at maxDelay).
    assert.ok(Date.now() - started >= 100, `retried too fast: ${Date.now() - started} ms`)
    assert.equal(connection.disconnected.length, 1)
    attempts.at(-1).open()
    assert.equal(client.status, 'open')
    assert.equal(connection.connected, 2)
    assert.deepEqual(attempts.at(-1).sent, [
      {
        type: 'join',
        data: {
          streamName: 's',
          groupId: 'g',
          subscriptionId: group.subscriptionId,
          syncPages: true,
        },
      },
    ])

    // disconnect() stops it all: no 'disconnected' from the socket, no retry.
    const last = attempts.at(-1)
    client.disconnect()
    assert.equal(connection.disconnected.length, 2)
    last.onclose?.({ code: 1000, reason: '' })
    await sleep(150)
    assert.equal(FakeWebSocket.last, last)
    assert.equal(connection.disconnected.length, 2)
  })

  test('versions: a re-join carries the last one; a frame taken twice is dropped', async () => {
    const client = new StreamClient({ url: 'ws://fake', WebSocket: FakeWebSocket })
    const group = client.group('s', 'g')
    const seen = record(group)
    const connecting = client.connect()
    FakeWebSocket.last.open()
    await connecting
    const frame = versioned
    const ping = (n) => frame(n, null, { type: 'event', event: { type: 'ping', data: n } })
    const socket = FakeWebSocket.last
    socket.receive(frame(3, null, { type: 'sync', data: [] }))
    socket.receive(frame(5, 'a', { type: 'create', data: { id: 'a' } }))
    socket.receive(ping(4)) // released late: it falls in a gap
    for (const again of [ping(4), ping(2), frame(5, 'a', { type: 'delete', data: { id: 'a' } })]) {
      socket.receive(again) // taken already, or in the sync
    }
    socket.receive(frame(9, null, { type: 'replayed' }))
    assert.deepEqual(
      seen.event.map((event) => event.data),
      [4],
    )
    assert.deepEqual(group.getState(), [{ id: 'a' }])
    assert.equal(seen.delete.length, 0)

    // Lost and re-opened: the join says where the subscription got to.
    socket.readyState = 3
    socket.onclose({ code: 1006, reason: '' })
    client.connect()
    FakeWebSocket.last.open()
    assert.deepEqual(FakeWebSocket.last.sent, [
      {
        type: 'join',
        data: {
          streamName: 's',
          groupId: 'g',
          subscriptionId: group.subscriptionId,
          syncPages: true,
          sinceVersion: 9,
        },
      },
    ])
    client.disconnect()
  })

  test('a sync in pages is assembled, with the changes after it, and shown whole', async () => {
    const client = new StreamClient({ url: 'ws://fake', WebSocket: FakeWebSocket })
    const group = client.group('s', 'g')
    const other = client.group('s', 'g') // answered after the first: keeps waiting
    const seen = record(group)
    const connecting = client.connect()
    FakeWebSocket.last.open()
    await connecting
    const frame = versioned
    const page = (n, version, data) => frame(version, null, { type: 'syncPage', page: n, data })
    const [a, b, c] = [{ id: 'a' }, { id: 'b' }, { id: 'c' }]
    const socket = FakeWebSocket.last
    socket.receive(page(0, 7, [a, b]))
    socket.receive(page(1, 9, [c]))
    socket.receive(frame(8, 'a', { type: 'update', data: { id: 'a', n: 1 } }))
    socket.receive(frame(9, 'b', { type: 'delete', data: b }))
    socket.receive(frame(9, 'c', { type: 'create', data: c })) // in page 1 already
    assert.deepEqual(group.getState(), [], 'nothing shown before the end')
    assert.equal(seen['*'].length, 0)
    assert.equal(group._joinState, 'waiting')
    socket.receive(frame(9, null, { type: 'synced', pages: 2 }))
    assert.deepEqual(group.getState(), [{ id: 'a', n: 1 }, c])
    assert.deepEqual(seen.sync, [[{ id: 'a', n: 1 }, c]])
    assert.equal(seen['*'].length, 1)
    assert.equal(group._joinState, 'joined')
    assert.equal(other._joinState, 'waiting')

    // A page missing: that sync is never shown.
    socket.receive(page(0, 10, [a]))
    socket.receive(page(2, 11, [b]))
    socket.receive(frame(11, null, { type: 'synced', pages: 3 }))
    assert.deepEqual(group.getState(), [{ id: 'a', n: 1 }, c])
    assert.equal(seen.sync.length, 1)
    client.disconnect()
  })

  test('connect() while waiting to reconnect tries at once', async () => {
    const client = new StreamClient({
      url: 'ws://fake',
      WebSocket: FakeWebSocket,
      reconnect: { initialDelay: 60_000, maxDelay: 60_000 },
    })
    const connecting = client.connect()
    const first = FakeWebSocket.last
    first.open()
    await connecting
    first.onclose({ code: 1006, reason: '' })
    assert.equal(client.status, 'reconnecting')
    const again = client.connect()
    assert.notEqual(FakeWebSocket.last, first)
    FakeWebSocket.last.open()
    await again
    assert.equal(client.status, 'open')
    client.disconnect()
  })

  test("a listener that throws is reported to 'error' and does not stop the others", async () => {
    const client = new StreamClient({ url: 'ws://fake', WebSocket: FakeWebSocket })
    const connection = watch(client)
    const group = client.group('s', 'g')
    const calls = []
    group.on('*', () => {
      throw new Error('boom')
    })
    group.on('*', (state) => calls.push(state))
    const connecting = client.connect()
    FakeWebSocket.last.open()
    await connecting
    const items = [{ id: 'a' }]
    FakeWebSocket.last.receive({
      type: 'stream',
      timestamp: 1,
      streamName: 's',
      groupId: 'g',
      id: null,
      event: { type: 'sync', data: items },
    })
    assert.deepEqual(calls, [items])
    assert.equal(connection.errors.length, 1)
    assert.equal(connection.errors[0].code, 'listener_error')
    assert.match(connection.errors[0].message, /boom/)
    client.disconnect()
  })
})

// --- 2. against real servers ------------------------------------------------------------------

describe('against a real server', { concurrency: false }, () => {
  test(
    'group and item subscriptions follow create, update and delete, with every event kind and *',
    { skip: NO_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const first = await createTodo('write the JS client')
      const { spy, SpyingWebSocket } = spyingWebSocket()
      const client = clientFor(t, { url: WS_URL, WebSocket: SpyingWebSocket })
      const connection = watch(client)
      // Made before connect(): joined when the socket opens.
      const group = client.group('todo', 'todos')
      const item = client.item('todo', 'todos', first.id)
      const seenGroup = record(group)
      const seenItem = record(item)
      assert.deepEqual(group.getState(), [])
      assert.equal(item.getState(), null)

      await client.connect()
      assert.equal(connection.connected, 1)
      assert.equal(client.connected, true)
      assert.deepEqual(
        spy.sent.map((frame) => frame.type),
        ['join', 'join'],
      )

      const initial = await eventually(() => {
        assert.equal(seenGroup.sync.length, 1)
        return seenGroup.sync[0]
      })
      assert.deepEqual(initial, await listTodos())
      assert.ok(initial.some((todo) => todo.id === first.id))
      assert.deepEqual(group.getState(), initial)
      assert.deepEqual(seenGroup['*'], [initial])
      await eventually(() => assert.deepEqual(seenItem.sync, [first]))
      assert.deepEqual(item.getState(), first)
      assert.deepEqual(seenItem['*'], [first])

      // create: the group hears it; the item subscription (another item) does not.
      const second = await createTodo('test it')
      await eventually(() => assert.deepEqual(seenGroup.create, [second]))
      assert.deepEqual(group.getState(), [...initial, second])
      assert.deepEqual(seenGroup['*'].at(-1), group.getState())
      assert.equal(seenItem['*'].length, 1)

      // update: both hear the whole new item.
      await completeTodo(first.id)
      await eventually(() => {
        assert.equal(seenGroup.update.length, 1)
        assert.equal(seenItem.update.length, 1)
      })
      const done = seenItem.update[0]
      assertCompleted(done, first)
      assert.deepEqual(seenGroup.update, [done])
      assert.deepEqual(item.getState(), done)
      assert.deepEqual(seenItem['*'].at(-1), done)
      const afterUpdate = [...initial.map((todo) => (todo.id === first.id ? done : todo)), second]
      assert.deepEqual(group.getState(), afterUpdate)
      assert.deepEqual(seenGroup['*'].at(-1), afterUpdate)

      // delete: both hear the last value; the item becomes null.
      await deleteTodo(first.id)
      await eventually(() => {
        assert.deepEqual(seenGroup.delete, [done])
        assert.deepEqual(seenItem.delete, [done])
      })
      assert.equal(item.getState(), null)
      assert.equal(seenItem['*'].at(-1), null)
      const afterDelete = afterUpdate.filter((todo) => todo.id !== first.id)
      assert.deepEqual(group.getState(), afterDelete)
      assert.deepEqual(group.getState(), await listTodos())

      // One '*' per change, nothing else on the way.
      assert.equal(seenGroup['*'].length, 4) // sync, create, update, delete
      assert.equal(seenItem['*'].length, 3) // sync, update, delete
      assert.equal(seenGroup.event.length + seenItem.event.length, 0)
      assert.deepEqual(connection.errors, [])

      client.disconnect()
      assert.equal(client.connected, false)
      assert.equal(client.status, 'idle')
      assert.equal(connection.disconnected.length, 1)
      assert.equal(connection.connected, 1)
    },
  )

  test(
    "custom events go to 'event' listeners of their group and leave the state alone",
    { skip: NO_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const groupId = `room-${randomUUID()}`
      const client = clientFor(t, { url: WS_URL, WebSocket })
      await client.connect()
      // Made while connected: joined at once.
      const room = client.group('notifications', groupId)
      const otherRoom = client.group('notifications', `${groupId}-other`)
      const oneItem = client.item('notifications', groupId, 'x')
      const seen = record(room)
      const seenOther = record(otherRoom)
      const seenItem = record(oneItem)
      await eventually(() => {
        assert.deepEqual(seen.sync, [[]])
        assert.deepEqual(seenOther.sync, [[]])
      })
      // (The item's sync comes with timestamp 0, as nothing was ever written to the group,
      // and Motia's rule drops it: its state stays null.)

      await notify(groupId, 'hello')
      await notify(groupId, 'again')
      const events = await eventually(() => {
        assert.equal(seen.event.length, 2)
        return seen.event
      })
      assert.deepEqual(
        events.map(({ type, data }) => [type, data.message, typeof data.timestamp]),
        [
          ['custom', 'hello', 'number'],
          ['custom', 'again', 'number'],
        ],
      )
      assert.deepEqual(room.getState(), [])
      assert.equal(seen['*'].length, 1) // the sync only
      // A group's event (no item id) reaches neither another group nor an item subscription.
      assert.equal(seenOther.event.length, 0)
      assert.equal(seenItem.event.length, 0)
      assert.equal(oneItem.getState(), null)
      client.disconnect()
    },
  )

  test(
    'close() leaves the stream and silences the subscription; others go on',
    { skip: NO_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const { spy, SpyingWebSocket } = spyingWebSocket()
      const client = clientFor(t, { url: WS_URL, WebSocket: SpyingWebSocket })
      await client.connect()
      const closing = client.group('todo', 'todos')
      const staying = client.group('todo', 'todos')
      const seenClosing = record(closing)
      const seenStaying = record(staying)
      // Two subscriptions of one group share its room (Motia's routing): each join's sync
      // reaches both, so wait until both joins are answered.
      await eventually(() => {
        assert.equal(seenClosing.sync.length, 2)
        assert.equal(seenStaying.sync.length, 2)
      })
      const before = closing.getState()
      const changesBefore = seenClosing['*'].length

      closing.close()
      assert.equal(closing.closed, true)
      const join = spy.sent.find(
        (frame) => frame.type === 'join' && frame.data.subscriptionId === closing.subscriptionId,
      )
      const { syncPages, ...subscription } = join.data // (a join's alone)
      assert.equal(syncPages, true)
      assert.deepEqual(spy.sent.at(-1), { type: 'leave', data: subscription })

      const todo = await createTodo('after a close')
      await eventually(() => assert.deepEqual(seenStaying.create, [todo]))
      assert.equal(seenClosing.create.length, 0)
      assert.equal(seenClosing['*'].length, changesBefore)
      assert.deepEqual(closing.getState(), before)
      client.disconnect()
    },
  )

  test(
    "the server's error frames go to client.on('error') and change no subscription",
    { skip: NO_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const client = clientFor(t, { url: WS_URL, WebSocket })
      const connection = watch(client)
      await client.connect()
      const unknown = client.group('no-such-stream', 'g')
      const seen = record(unknown)
      const error = await eventually(() => {
        assert.equal(connection.errors.length, 1)
        return connection.errors[0]
      })
      assert.equal(error.code, 'unknown_stream')
      assert.equal(error.streamName, 'no-such-stream')
      assert.equal(error.groupId, 'g')
      assert.match(error.message, /no-such-stream/)
      assert.deepEqual(unknown.getState(), [])
      assert.equal(
        KINDS.reduce((count, kind) => count + seen[kind].length, 0),
        0,
      )
      assert.equal(client.connected, true) // the socket stays open
      client.disconnect()
    },
  )

  test(
    'custom subprotocols are offered, and the first is what the server accepts',
    { skip: NO_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const { spy, SpyingWebSocket } = spyingWebSocket()
      const client = clientFor(t, {
        url: WS_URL,
        protocols: ['motia-test'],
        WebSocket: SpyingWebSocket,
      })
      await client.connect()
      assert.deepEqual(spy.sockets[0].protocols, ['motia-test'])
      assert.equal(spy.sockets[0].socket.protocol, 'motia-test')
      client.disconnect()
    },
  )

  test(
    'after a dropped connection it reconnects, re-joins and gets what it missed replayed',
    { skip: NO_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const { spy, SpyingWebSocket } = spyingWebSocket()
      // A first retry after 0.5-1 s: time enough to change the group while it is away.
      const client = clientFor(t, {
        url: WS_URL,
        WebSocket: SpyingWebSocket,
        reconnect: { initialDelay: 1000, maxDelay: 2000 },
      })
      const connection = watch(client)
      const group = client.group('todo', 'todos')
      const seen = record(group)
      await client.connect()
      await eventually(() => assert.equal(seen.sync.length, 1))
      const before = group.getState()

      spy.sockets[0].socket.terminate() // the network drops the connection
      await eventually(() => assert.equal(connection.disconnected.length, 1))
      assert.equal(client.status, 'reconnecting')
      const missed = await createTodo('while the client is away')
      assert.equal(client.status, 'reconnecting', 'reconnected before the change: cannot test')

      await eventually(() => {
        assert.equal(connection.connected, 2)
        assert.deepEqual(seen.create, [missed]) // replayed as it was sent
      })
      assert.equal(seen.sync.length, 1, 'no re-sync')
      assert.deepEqual(group.getState(), [...before, missed])
      const joins = spy.sent.filter((frame) => frame.type === 'join')
      assert.equal(joins.length, 2)
      // The same subscription joins again, from the last version it took.
      const { sinceVersion, ...rejoin } = joins[1].data
      assert.deepEqual(rejoin, joins[0].data)
      assert.ok(Number.isInteger(sinceVersion), JSON.stringify(joins[1]))
      client.disconnect()
    },
  )

  test(
    'changes and custom events made while it was away come replayed in order, no sync',
    { skip: NO_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const roomId = `replay-${randomUUID()}`
      const client = clientFor(t, { url: WS_URL, WebSocket })
      const todos = client.group('todo', 'todos')
      const room = client.group('notifications', roomId)
      const seenTodos = record(todos)
      const seenRoom = record(room)
      await client.connect()
      await eventually(() => {
        assert.equal(seenTodos.sync.length, 1)
        assert.equal(seenRoom.sync.length, 1)
      })
      await notify(roomId, 'before')
      await eventually(() => assert.equal(seenRoom.event.length, 1))

      client.disconnect()
      const created = []
      for (let n = 0; n < 5; n += 1) {
        created.push(await createTodo(`away ${n}`))
        await notify(roomId, `away ${n}`)
      }
      await completeTodo(created[0].id)
      await deleteTodo(created[1].id)
      await client.connect()

      await eventually(() => {
        assert.equal(seenRoom.event.length, 6)
        assert.equal(seenTodos.delete.length, 1)
      })
      assert.deepEqual(
        seenRoom.event.map((event) => event.data.message),
        ['before', 'away 0', 'away 1', 'away 2', 'away 3', 'away 4'],
      )
      assert.deepEqual(seenTodos.create, created)
      assert.equal(seenTodos.update.length, 1)
      assertCompleted(seenTodos.update[0], created[0])
      assert.equal(seenTodos.delete[0].id, created[1].id)
      assert.equal(seenTodos.sync.length + seenRoom.sync.length, 2, 'no re-sync')
      assert.deepEqual(todos.getState(), await listTodos())
      client.disconnect()
    },
  )

  test(
    'it reconnects after the server restarts, with the state re-synced and live again',
    { skip: NO_RESTART, timeout: TEST_TIMEOUT },
    async (t) => {
      const kept = await createTodo('survives the restart')
      const { spy, SpyingWebSocket } = spyingWebSocket()
      const client = clientFor(t, {
        url: WS_URL,
        WebSocket: SpyingWebSocket,
        reconnect: { initialDelay: 250, maxDelay: 1000 },
      })
      const connection = watch(client)
      const group = client.group('todo', 'todos')
      const item = client.item('todo', 'todos', kept.id)
      const seenGroup = record(group)
      const seenItem = record(item)
      await client.connect()
      await eventually(() => {
        assert.equal(seenGroup.sync.length, 1)
        assert.deepEqual(item.getState(), kept)
      })
      const before = group.getState()

      // pytest stops the server, then starts it again on the same port and database.
      const restart = fetch(`${CONTROL_URL}/restart`, { method: 'POST' })
      await eventually(() => assert.equal(connection.disconnected.length, 1), 15_000)
      const answer = await restart
      assert.equal(answer.status, 200, await answer.text())

      await eventually(() => assert.equal(connection.connected, 2), 15_000)
      assert.ok(spy.sockets.length >= 2)
      // Re-joined from the versions they took: nothing was missed, so nothing is replayed.
      const rejoins = spy.sent.filter((frame) => frame.type === 'join').slice(2)
      assert.equal(rejoins.length, 2)
      assert.ok(rejoins.every((frame) => Number.isInteger(frame.data.sinceVersion)))
      assert.equal(seenGroup.sync.length, 1)
      assert.deepEqual(group.getState(), before)
      assert.deepEqual(group.getState(), await listTodos())
      assert.deepEqual(item.getState(), kept)

      // And live again: a change right after the restart arrives.
      const fresh = await createTodo('after the restart')
      await eventually(() => assert.deepEqual(seenGroup.create, [fresh]))
      assert.deepEqual(group.getState(), [...before, fresh])
      await completeTodo(kept.id)
      await eventually(() => assert.equal(seenItem.update.length, 1))
      assertCompleted(item.getState(), kept)
      assert.equal(connection.disconnected.length, 1)
      client.disconnect()
    },
  )
})

describe('against a server that checks tokens', { concurrency: false }, () => {
  test(
    'a token in the Authorization subprotocol lets the client in',
    { skip: NO_AUTH_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const { spy, SpyingWebSocket } = spyingWebSocket()
      const client = clientFor(t, {
        url: AUTH_WS_URL,
        token: TOKEN,
        protocols: ['motia-test'],
        WebSocket: SpyingWebSocket,
      })
      await client.connect()
      assert.deepEqual(spy.sockets[0].protocols, ['Authorization', TOKEN, 'motia-test'])
      assert.equal(spy.sockets[0].socket.protocol, 'Authorization')
      assert.equal(spy.sockets[0].url, AUTH_WS_URL)
      const group = client.group('todo', 'todos')
      const seen = record(group)
      await eventually(() => assert.equal(seen.sync.length, 1))
      const todo = await createTodo('for token holders', AUTH_HTTP_URL)
      await eventually(() => assert.deepEqual(seen.create, [todo]))
      client.disconnect()
    },
  )

  test(
    'a token in the query string lets the client in',
    { skip: NO_AUTH_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      const { spy, SpyingWebSocket } = spyingWebSocket()
      const client = clientFor(t, {
        url: AUTH_WS_URL,
        token: TOKEN,
        tokenIn: 'query',
        WebSocket: SpyingWebSocket,
      })
      await client.connect()
      const url = new URL(spy.sockets[0].url)
      assert.equal(url.searchParams.get('authToken'), TOKEN)
      assert.equal(spy.sockets[0].protocols, undefined) // nothing offered
      const group = client.group('todo', 'todos')
      const seen = record(group)
      await eventually(() => assert.equal(seen.sync.length, 1))
      const todo = await createTodo('seen through a query token', AUTH_HTTP_URL)
      await eventually(() => assert.deepEqual(seen.create, [todo]))
      client.disconnect()
    },
  )

  test(
    'without a valid token the handshake is refused: connect() fails, no retry follows',
    { skip: NO_AUTH_SERVER, timeout: TEST_TIMEOUT },
    async (t) => {
      for (const token of [undefined, 'not-a-token']) {
        const { spy, SpyingWebSocket } = spyingWebSocket()
        const client = clientFor(t, {
          url: AUTH_WS_URL,
          token,
          WebSocket: SpyingWebSocket,
          reconnect: { initialDelay: 50, maxDelay: 100 },
        })
        const connection = watch(client)
        const group = client.group('todo', 'todos')
        await assert.rejects(client.connect(), /could not connect to .*403/)
        assert.equal(client.status, 'idle')
        assert.equal(client.connected, false)
        await sleep(300)
        assert.equal(spy.sockets.length, 1, 'it retried a refused first connection')
        assert.equal(connection.connected, 0)
        assert.equal(connection.disconnected.length, 0)
        assert.deepEqual(group.getState(), [])
        client.disconnect()
      }
    },
  )
})
