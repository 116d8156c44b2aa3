// End-to-end driver: our JavaScript client (streams/static/streams/stream-client.js) in Node,
// with the `ws` package's WebSocket and its default frame limit (100 MiB), following a group.
//
//   node our_client_group.mjs <ws-url> <stream> <group>
//
// Output, one JSON line each: {"sync": <items>, "ids": [...], "bytes": <JSON length>} for the
// first state a sync brings (then exit 0); {"disconnected": {"code", "reason"}} if the
// socket closes first (then exit 1); {"error": {...}} for a server error frame.
import WebSocket from 'ws'

import { StreamClient } from '../../streams/static/streams/stream-client.js'

function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`)
}

const [url, streamName, groupId] = process.argv.slice(2)
const client = new StreamClient({ url, WebSocket, reconnect: false })
client.on('error', (error) => emit({ error }))
client.on('disconnected', (info) => {
  emit({ disconnected: info })
  process.exit(1)
})
const group = client.group(streamName, groupId)
group.on('sync', (items) => {
  const ids = items.map((item) => item.id)
  emit({ sync: items.length, ids, bytes: JSON.stringify(items).length })
  process.exit(0)
})
await client.connect()
