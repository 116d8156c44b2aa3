// The trace view follows a trace that is still going: while the server marks the timeline
// live, it is fetched again every second (for two minutes at most) and swapped in, keeping
// the details the reader opened.
const REFRESH_MS = 1000
const FOLLOW_MS = 120_000
const started = Date.now()

function openDetails(timeline) {
  const open = new Set()
  timeline.querySelectorAll('.entry').forEach((entry, index) => {
    entry.querySelectorAll('details').forEach((details, inner) => {
      if (details.open) open.add(`${entry.dataset.kind}:${index}:${inner}`)
    })
  })
  return open
}

function reopen(timeline, open) {
  timeline.querySelectorAll('.entry').forEach((entry, index) => {
    entry.querySelectorAll('details').forEach((details, inner) => {
      if (open.has(`${entry.dataset.kind}:${index}:${inner}`)) details.open = true
    })
  })
}

async function refresh() {
  const current = document.getElementById('timeline')
  if (!current || current.dataset.live !== 'true' || Date.now() - started > FOLLOW_MS) return
  const url = new URL(window.location.href)
  url.searchParams.set('partial', '1')
  try {
    const response = await fetch(url, { credentials: 'same-origin' })
    if (response.ok) {
      const holder = document.createElement('div')
      holder.innerHTML = await response.text()
      const next = holder.querySelector('#timeline')
      if (next) {
        reopen(next, openDetails(current))
        current.replaceWith(next)
      }
    }
  } catch {
    // The server is away for a moment: try again at the next tick.
  }
  setTimeout(refresh, REFRESH_MS)
}

setTimeout(refresh, REFRESH_MS)
