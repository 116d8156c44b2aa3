// The live demo: the todo list and parallel merge of Motia's streaming guide. The page never
// edits its own lists: it calls the step endpoints and draws what the streams then send, so
// every open window shows the same thing.
import { callStep, connectClient, h, showError } from '../streams/pages/common.js'

const client = connectClient()

// --- todos: the `todo` stream, group `todos` ---------------------------------------------------

const list = document.getElementById('todo-list')
const empty = document.getElementById('todo-empty')
const count = document.getElementById('todo-count')
const form = document.getElementById('todo-form')
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })

function todoRow(todo) {
  const done = Boolean(todo.completedAt)
  const path = `/todos/${encodeURIComponent(todo.id)}`
  return h(
    'li',
    { class: done ? 'todo done' : 'todo', dataset: { id: todo.id } },
    h(
      'button',
      {
        type: 'button',
        class: 'check',
        title: done ? 'Completed' : 'Complete',
        'aria-label': `Complete "${todo.description}"`,
        disabled: done,
        onclick: () => callStep('PATCH', `${path}/complete`).catch(showError),
      },
      '✓',
    ),
    h('span', { class: 'description' }, todo.description),
    h('time', { datetime: todo.createdAt }, timeFormat.format(new Date(todo.createdAt))),
    h(
      'button',
      {
        type: 'button',
        class: 'ghost delete',
        title: 'Delete',
        'aria-label': `Delete "${todo.description}"`,
        onclick: () => callStep('DELETE', path).catch(showError),
      },
      '✕',
    ),
  )
}

function renderTodos(todos) {
  list.replaceChildren(...todos.map(todoRow))
  empty.hidden = todos.length > 0
  const done = todos.filter((todo) => todo.completedAt).length
  count.textContent = `${todos.length - done} open · ${done} done`
}

const todos = client.group('todo', 'todos')
todos.on('*', renderTodos)

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  const input = form.elements.description
  const description = input.value.trim()
  if (!description) return
  try {
    await callStep('POST', '/todos', { description })
    input.value = ''
  } catch (error) {
    showError(error)
  }
  input.focus()
})

// How many windows watch the todos: the todo stream's join/leave hooks count them in `inbox`.
const watching = document.getElementById('watching')
client.item('inbox', 'watching', 'todos').on('*', (item) => {
  const n = item ? item.watching : 0
  watching.textContent = n > 0 ? `${n} watching` : ''
})

// --- parallel merge: the `parallelMerge` stream, item <traceId> of group `merge-groups` --------

const mergeForm = document.getElementById('merge-form')
const progress = document.getElementById('merge-progress')
const bar = progress.querySelector('.bar')
const figure = document.getElementById('merge-figure')
const status = document.getElementById('merge-status')
const cells = document.getElementById('merge-steps')
const trace = document.getElementById('merge-trace')
let run = null // the item subscription of the run shown
let finishedAt = null // when this page saw the run complete

function renderRun(item) {
  if (!item) return
  const total = item.totalSteps || 0
  const completed = Math.min(item.completedSteps || 0, total)
  const percent = total ? Math.round((completed / total) * 100) : 0
  bar.style.width = `${percent}%`
  progress.setAttribute('aria-valuenow', String(percent))
  progress.dataset.done = String(total > 0 && completed === total)
  figure.textContent = `${percent}%`
  if (cells.children.length !== total) {
    cells.replaceChildren(...Array.from({ length: total }, () => h('span')))
  }
  Array.from(cells.children).forEach((cell, i) => cell.classList.toggle('done', i < completed))
  if (completed < total) {
    status.textContent = `${completed} of ${total} steps complete`
  } else {
    finishedAt ??= Date.now()
    const seconds = ((finishedAt - item.startedAt) / 1000).toFixed(1)
    status.textContent = `All ${total} steps complete in ${seconds} s`
  }
}

mergeForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  const button = mergeForm.querySelector('button')
  const totalSteps = Number(mergeForm.elements.totalSteps.value) || 5
  button.disabled = true
  try {
    const { traceId } = await callStep('POST', '/stream-parallel-merge', { totalSteps })
    if (run) run.close()
    finishedAt = null
    trace.textContent = traceId
    trace.parentElement.hidden = false
    status.textContent = 'Started…'
    run = client.item('parallelMerge', 'merge-groups', traceId)
    run.on('*', renderRun)
  } catch (error) {
    showError(error)
  } finally {
    button.disabled = false
  }
})
