// Peer (b): Auth0's documented Node client, the `eventsource` package, used as its README and
// Auth0's guide show: an EventSource with the bearer token added through its `fetch` option, one
// listener per event type, JSON.parse of each event's data, and a count.
// Usage: node node_eventsource.mjs URL TOKEN N TYPE[,TYPE...]
// Prints "done <count>" once it has seen N events, then exits.
import {EventSource} from 'eventsource'

const [url, token, total, typeList] = process.argv.slice(2)
const expected = Number(total)
let count = 0

const es = new EventSource(url, {
  fetch: (input, init) =>
    fetch(input, {
      ...init,
      headers: {
        ...init.headers,
        Authorization: `Bearer ${token}`,
      },
    }),
})

const onEvent = (event) => {
  const message = JSON.parse(event.data)
  if (message.event) {
    count += 1
    if (count === expected) {
      es.close()
      process.stdout.write(`done ${count}\n`, () => process.exit(0))
    }
  }
}

for (const type of typeList.split(',')) {
  es.addEventListener(type, onEvent)
}

es.addEventListener('error', (err) => {
  if (es.readyState === EventSource.CLOSED) {
    process.stderr.write(`eventsource closed after ${count} events: ${err.message ?? err}\n`)
    process.exit(1)
  }
})
