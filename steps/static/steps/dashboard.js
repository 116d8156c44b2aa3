// The dashboard's live part: each stream card lists its groups (rendered by the server); a
// group that is picked, or every group of a small stream, is watched live with the stream
// client and its items are shown in a table that follows the stream.
import { connectClient, h } from '../streams/pages/common.js'

const client = connectClient()
const MAX_EVENTS = 5 // custom events kept per watched group

/** Start watching `group` of the stream card `card`; watching twice does nothing. */
function watch(card, group) {
  const stream = card.dataset.stream
  const panels = card.querySelector('.watched')
  if (panels.querySelector(`[data-group="${CSS.escape(group)}"]`)) return
  const chip = card.querySelector(`.chip[data-group="${CSS.escape(group)}"]`)
  if (chip) chip.setAttribute('aria-pressed', 'true')

  const rows = h('tbody')
  const empty = h('p', { class: 'empty' }, 'No items.')
  const events = h('ul', { class: 'events', hidden: true })
  const size = h('span', { class: 'muted' })
  const subscription = client.group(stream, group)
  const unwatch = () => {
    subscription.close()
    panel.remove()
    if (chip) chip.setAttribute('aria-pressed', 'false')
  }
  const panel = h(
    'section',
    { class: 'watch', dataset: { group } },
    h(
      'header',
      {},
      h('code', {}, group),
      h('span', { class: 'live' }, 'live'),
      size,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'ghost', title: 'Stop watching', onclick: unwatch }, '×'),
    ),
    h(
      'div',
      { class: 'body' },
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'id'), h('th', {}, 'item'))), rows),
      empty,
    ),
    events,
  )
  panels.append(panel)

  // Redraw on every change; flash the row of the item that changed.
  subscription.on('*', (items) => {
    rows.replaceChildren(
      ...items.map((item) =>
        h(
          'tr',
          { dataset: { id: item.id } },
          h('td', { class: 'id' }, String(item.id)),
          h('td', { class: 'json' }, JSON.stringify(withoutId(item))),
        ),
      ),
    )
    empty.hidden = items.length > 0
    size.textContent = `${items.length} item${items.length === 1 ? '' : 's'}`
    if (chip) {
      chip.querySelector('.count').textContent = String(items.length)
      countItems(card)
    }
  })
  const flash = (item) =>
    requestAnimationFrame(() => {
      const row = rows.querySelector(`tr[data-id="${CSS.escape(String(item.id))}"]`)
      if (row) row.classList.add('flash')
    })
  subscription.on('create', flash)
  subscription.on('update', flash)
  // Custom events (ctx.streams.<name>.send): the last few, newest first.
  subscription.on('event', (event) => {
    const time = new Date().toLocaleTimeString()
    const line = h('li', {}, h('span', { class: 'muted' }, time), ` ${event.type} `)
    line.append(JSON.stringify(event.data))
    events.prepend(line)
    while (events.children.length > MAX_EVENTS) events.lastChild.remove()
    events.hidden = false
  })
}

/** Sum the card's group counts (kept live for watched groups) into its header. */
function countItems(card) {
  const counts = card.querySelectorAll('.chip .count')
  const total = Array.from(counts).reduce((sum, count) => sum + Number(count.textContent), 0)
  card.querySelector('.item-count').textContent = `${total} item${total === 1 ? '' : 's'}`
}

function withoutId(item) {
  const { id, ...rest } = item
  return rest
}

for (const card of document.querySelectorAll('.stream-card')) {
  for (const chip of card.querySelectorAll('.chip')) {
    chip.addEventListener('click', () => {
      const open = card.querySelector(`.watch[data-group="${CSS.escape(chip.dataset.group)}"]`)
      if (open) open.querySelector('header button').click()
      else watch(card, chip.dataset.group)
    })
  }
  card.querySelector('.watch-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const input = event.target.elements.group
    const group = input.value.trim()
    if (group) watch(card, group)
    input.value = ''
  })
  if (card.dataset.watchAll === 'true') {
    for (const chip of card.querySelectorAll('.chip')) watch(card, chip.dataset.group)
  }
}
