// Checks the timeout warning's timing logic in Node, with a fake page: run by test_timeout_warning_js.py.
import assert from 'node:assert/strict'
import { minutesAndSeconds, TimeoutWarning } from '../../services/portal/assets/js/timeout-warning.js'

assert.equal(minutesAndSeconds(125000), '2 minutes')
assert.equal(minutesAndSeconds(120000), '2 minutes')
assert.equal(minutesAndSeconds(119000), '1 minute')
assert.equal(minutesAndSeconds(60000), '1 minute')
assert.equal(minutesAndSeconds(59000), '59 seconds')
assert.equal(minutesAndSeconds(500), '1 second')
assert.equal(minutesAndSeconds(-5), '0 seconds')

function fakePage (dataset) {
  const element = () => ({ textContent: '', focus () { this.focused = true }, addEventListener () {} })
  const parts = {
    '.app-timeout-dialog__countdown': element(),
    '[data-timeout-announcement]': element(),
    '#timeout-warning-heading': element(),
    form: { addEventListener () {}, submit () { this.submitted = true } },
    '[data-timeout-stay]': element(),
    '[data-timeout-sign-out]': element()
  }
  const dialog = {
    open: false,
    showModal () { this.open = true },
    close () { this.open = false },
    addEventListener () {},
    querySelector: (selector) => parts[selector]
  }
  return { body: { dataset }, dialog, parts }
}

globalThis.document = { activeElement: null, querySelector: () => ({ getAttribute: () => 'csrf' }) }

// The computer's clock is 10 minutes slow: the server's times are moved onto it.
const serverNow = Date.parse('2030-01-01T08:00:00Z')
let now = serverNow - 600000
const { body, dialog, parts } = fakePage({
  idleExpiresAt: '2030-01-01T08:20:00Z', warnSeconds: '120', serverTime: '2030-01-01T08:00:00Z'
})
const warning = new TimeoutWarning(body, dialog, { now: () => now })
warning.tick()
assert.equal(dialog.open, false, 'no warning 20 minutes before')
now += (20 * 60 - 121) * 1000
warning.tick()
assert.equal(dialog.open, false, 'no warning 2:01 before')
now += 2000
warning.tick()
assert.equal(dialog.open, true, 'the warning 1:59 before')
assert.equal(parts['.app-timeout-dialog__countdown'].textContent, '1 minute')
assert.equal(parts['#timeout-warning-heading'].focused, true, 'focus moves into the dialog')
assert.match(parts['[data-timeout-announcement]'].textContent, /sign you out in 1 minute/)

// Another tab kept the session alive: the clock moves on and the warning closes.
body.dataset.idleExpiresAt = '2030-01-01T08:40:00Z'
warning.tick()
assert.equal(dialog.open, false)

// Time is up, but the server says the session was extended elsewhere: no sign-out.
const calls = []
let navigated = null
const late = new TimeoutWarning(body, dialog, {
  now: () => now,
  fetchFn: async (url, options = {}) => {
    calls.push([url, options.method || 'GET'])
    return { ok: true, status: 200, json: async () => ({ idle_expires_at: '2030-01-01T09:00:00Z', warn_seconds: 120, server_time: '2030-01-01T08:20:00Z' }) }
  },
  navigate: (url) => { navigated = url }
})
body.dataset.idleExpiresAt = '2030-01-01T08:10:00Z'
await late.timeUp()
assert.deepEqual(calls, [['/session', 'GET']])
assert.equal(navigated, null)
assert.equal(body.dataset.idleExpiresAt, '2030-01-01T09:00:00Z')

// Time is up and the session has ended: sign out, saying why.
const ended = new TimeoutWarning(body, dialog, {
  now: () => now,
  fetchFn: async (url, options = {}) => {
    calls.push([url, options.method || 'GET', options.body ? String(options.body) : ''])
    return { ok: false, status: 401, json: async () => ({ signed_in: false }) }
  },
  navigate: (url) => { navigated = url }
})
calls.length = 0
await ended.timeUp()
assert.deepEqual(calls, [['/session', 'GET', ''], ['/sign-out', 'POST', 'csrf_token=csrf&reason=timeout']])
assert.equal(navigated, '/signed-out?reason=timeout')

// A Welfare Call page: its own 40 minutes with a 10-minute warning, as the page's clock says. The warning opens
// 10 minutes before, not 2; when the time is up the signed-out page is told the 40 minutes.
now = serverNow
const welfare = fakePage({
  idleExpiresAt: '2030-01-01T08:40:00Z', warnSeconds: '600', idleSeconds: '2400', serverTime: '2030-01-01T08:00:00Z'
})
const theirs = new TimeoutWarning(welfare.body, welfare.dialog, {
  now: () => now,
  fetchFn: async (url, options = {}) => ({ ok: false, status: 401, json: async () => ({ signed_in: false }) }),
  navigate: (url) => { navigated = url }
})
now += (40 * 60 - 601) * 1000
theirs.tick()
assert.equal(welfare.dialog.open, false, 'no warning 10:01 before')
now += 2000
theirs.tick()
assert.equal(welfare.dialog.open, true, 'the warning 9:59 before')
assert.equal(welfare.parts['.app-timeout-dialog__countdown'].textContent, '9 minutes')
await theirs.timeUp()
assert.equal(navigated, '/signed-out?reason=timeout&after=2400')
console.log('ok')
