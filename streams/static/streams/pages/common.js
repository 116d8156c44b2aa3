// What the demo and the dashboard share: one connected stream client, its state shown in the
// top bar, small DOM helpers and JSON calls to the step endpoints.
import { StreamClient } from '../stream-client.js'

/** The stream socket of the server that served the page: ws(s)://<same host>/ */
export function streamUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws'
  return `${scheme}://${window.location.host}/`
}

/**
 * A client for this page's server, connected now. The element `#connection` shows its state
 * ('connecting', 'connected', 'disconnected'). The client reconnects by itself once it has
 * been connected; a failed first attempt is retried here, with backoff.
 */
export function connectClient() {
  const token = document.body.dataset.streamToken || undefined
  const client = new StreamClient({ url: streamUrl(), token })
  const badge = document.getElementById('connection')
  const show = (state, text) => {
    if (!badge) return
    badge.dataset.state = state
    badge.textContent = text
  }
  client.on('connected', () => show('connected', 'live'))
  client.on('disconnected', () => show('disconnected', 'reconnecting…'))
  client.on('error', (error) => console.warn('stream client:', error))

  let delay = 500
  const attempt = () => {
    show('connecting', 'connecting…')
    client.connect().catch(() => {
      show('disconnected', 'offline, retrying…')
      setTimeout(attempt, delay)
      delay = Math.min(delay * 2, 10000)
    })
  }
  attempt()
  return client
}

/** `h('li', {class: 'todo', dataset: {id}}, child, ...)`: an element; strings become text. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name === 'dataset') Object.assign(element.dataset, value)
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : value)
  }
  element.append(...children.filter((child) => child !== null && child !== undefined))
  return element
}

/** Call a step endpoint with JSON; resolves to the parsed body, throws with its detail. */
export async function callStep(method, path, body) {
  const options = { method, headers: { accept: 'application/json' } }
  if (body !== undefined) {
    options.headers['content-type'] = 'application/json'
    options.body = JSON.stringify(body)
  }
  const response = await fetch(path, options)
  const text = await response.text()
  const data = text ? JSON.parse(text) : null
  if (!response.ok) {
    const detail = data && data.detail ? JSON.stringify(data.detail) : response.statusText
    throw new Error(`${method} ${path} failed (${response.status}): ${detail}`)
  }
  return data
}

/** Show an error in `#error` (hidden again after a while). */
export function showError(error) {
  const box = document.getElementById('error')
  console.error(error)
  if (!box) return
  box.textContent = error.message || String(error)
  box.hidden = false
  clearTimeout(showError.timer)
  showError.timer = setTimeout(() => (box.hidden = true), 6000)
}
