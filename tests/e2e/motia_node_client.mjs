// End-to-end driver: Motia's published Node stream client, used as a front end would use it.
//
//   node motia_node_client.mjs <ws-url> [--protocols '<json list>'] <spec> [<spec> ...]
//
// Each <spec> is a JSON object:
//   {"sub": "group", "stream": "todo", "group": "todos"}                  -> subscribeGroup
//   {"sub": "item",  "stream": "todo", "group": "todos", "id": "<id>"}    -> subscribeItem
// "sub" is the label printed with that subscription's states.
//
// Output: one JSON line per happening, written synchronously (stdout is a pipe):
//   {"sub": "<label>", "state": <getState() after the change>}
//   {"socket": "open"} / {"socket": "close", "code": 1000} / {"socket": "error", "message": "..."}
//   {"fatal": "<message>"}  (then exit status 1)
// The driver runs until stdin closes or it gets SIGTERM/SIGINT.
import { Stream } from '@motiadev/stream-client-node'

function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`)
}

function fail(message) {
  emit({ fatal: message })
  process.exit(1)
}

process.on('uncaughtException', (error) => fail(String(error?.stack ?? error)))
process.on('unhandledRejection', (error) => fail(String(error?.stack ?? error)))

function parseArgs(argv) {
  const [url, ...rest] = argv
  if (!url) fail('usage: motia_node_client.mjs <ws-url> [--protocols <json>] <spec>...')
  let protocols
  const specs = []
  for (let i = 0; i < rest.length; i += 1) {
    if (rest[i] === '--protocols') {
      protocols = JSON.parse(rest[i + 1])
      i += 1
    } else {
      specs.push(JSON.parse(rest[i]))
    }
  }
  if (specs.length === 0) fail('no subscription given')
  return { url, protocols, specs }
}

const { url, protocols, specs } = parseArgs(process.argv.slice(2))
const stream = new Stream(url, protocols ? { protocols } : undefined)

// The first socket's life, for diagnostics (the client reconnects by itself after a close).
stream.ws.onOpen(() => emit({ socket: 'open' }))
stream.ws.onClose((event) => emit({ socket: 'close', code: event?.code ?? null }))
stream.ws.ws?.on?.('error', (error) => emit({ socket: 'error', message: String(error?.message ?? error) }))

const subscriptions = specs.map((spec) => {
  let subscription
  if (spec.id === undefined || spec.id === null) {
    subscription = stream.subscribeGroup(spec.stream, spec.group)
  } else {
    subscription = stream.subscribeItem(spec.stream, spec.group, spec.id)
  }
  const label = spec.sub ?? (spec.id ? 'item' : 'group')
  subscription.addChangeListener(() => emit({ sub: label, state: subscription.getState() }))
  return subscription
})

function shutdown() {
  for (const subscription of subscriptions) subscription.close()
  stream.close()
  process.exit(0)
}

process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.stdin.on('end', shutdown)
process.stdin.resume()
