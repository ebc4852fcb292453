// The GOV.UK timeout warning: a modal dialog shown shortly before an idle session ends.
//
// Signed-in pages carry the session's clock on <body>: data-idle-expires-at (when the session ends if
// nothing happens), data-warn-seconds (how long before that to warn), data-idle-seconds (how long without
// activity ends it) and data-server-time (the server's clock when the page was made, so a wrong clock on this
// computer does not move the warning). The idle timeout and the warning are the person's own: their local
// authority's rule (the strictest of them), from identity through the gateway; nothing here is a constant
// but the fallback for a page without a clock.
// "Stay signed in" asks the portal to restart the idle clock; when the time is up we sign out and say why.
// Without JavaScript none of this runs, and the next page after the session ends is the sign-in page.

const TICK_MS = 1000

// Whole minutes, rounded down (never promising more time than there is), then seconds in the last minute.
export function minutesAndSeconds (ms) {
  const total = Math.max(0, Math.ceil(ms / 1000))
  if (total >= 60) {
    const minutes = Math.floor(total / 60)
    return minutes === 1 ? '1 minute' : `${minutes} minutes`
  }
  return total === 1 ? '1 second' : `${total} seconds`
}

export class TimeoutWarning {
  constructor (body, dialog, { now = () => Date.now(), fetchFn = (...args) => window.fetch(...args), navigate = (url) => window.location.assign(url) } = {}) {
    this.body = body
    this.dialog = dialog
    this.now = now
    this.fetch = fetchFn
    this.navigate = navigate
    this.countdown = dialog.querySelector('.app-timeout-dialog__countdown')
    this.announcement = dialog.querySelector('[data-timeout-announcement]')
    this.heading = dialog.querySelector('#timeout-warning-heading')
    this.form = dialog.querySelector('form')
    this.stayButton = dialog.querySelector('[data-timeout-stay]')
    this.signOutButton = dialog.querySelector('[data-timeout-sign-out]')
    this.lastAnnounced = null
    this.returnFocusTo = null
    this.busy = false
    this.skewMs = this.measureSkew(body.dataset.serverTime)
  }

  start () {
    this.form.addEventListener('submit', (event) => {
      // The "Sign out" button posts the form to /sign-out as usual; only "Stay signed in" is ours.
      if (event.submitter && event.submitter !== this.stayButton) return
      event.preventDefault()
      this.staySignedIn()
    })
    // Escape closes a modal dialog: here it means "stay signed in", as in the GOV.UK pattern.
    this.dialog.addEventListener('cancel', (event) => {
      event.preventDefault()
      this.staySignedIn()
    })
    this.timer = setInterval(() => this.tick(), TICK_MS)
    this.tick()
  }

  measureSkew (serverTime) {
    const server = Date.parse(serverTime || '')
    return Number.isNaN(server) ? 0 : server - this.now()
  }

  // Milliseconds until the session ends, on this computer's clock; NaN when the page has no clock.
  remainingMs () {
    const expires = Date.parse(this.body.dataset.idleExpiresAt || '')
    return expires - this.skewMs - this.now()
  }

  warnMs () {
    const seconds = Number(this.body.dataset.warnSeconds)
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 120000
  }

  tick () {
    if (this.busy) return
    const left = this.remainingMs()
    if (Number.isNaN(left)) return
    if (left <= 0) {
      this.timeUp()
    } else if (left <= this.warnMs()) {
      this.show(left)
    } else if (this.dialog.open) {
      this.close()
    }
  }

  show (left) {
    const words = minutesAndSeconds(left)
    this.countdown.textContent = words
    if (!this.dialog.open) {
      this.returnFocusTo = document.activeElement
      this.dialog.showModal()
      this.heading.focus()
      this.announce(left, words, true)
    } else {
      this.announce(left, words, false)
    }
  }

  // Screen readers hear the time left when the dialog opens, then each minute, then every 15 seconds.
  announce (left, words, force) {
    const seconds = Math.ceil(left / 1000)
    const step = seconds > 60 ? 60 : 15
    const slot = Math.ceil(seconds / step)
    if (!force && slot === this.lastAnnounced) return
    this.lastAnnounced = slot
    this.announcement.textContent = `For your security, we will sign you out in ${words}.`
  }

  close () {
    this.dialog.close()
    this.lastAnnounced = null
    this.announcement.textContent = ''
    if (this.returnFocusTo && typeof this.returnFocusTo.focus === 'function') {
      this.returnFocusTo.focus()
    }
  }

  updateClock (clock) {
    this.skewMs = this.measureSkew(clock.server_time)
    this.body.dataset.idleExpiresAt = clock.idle_expires_at
    this.body.dataset.warnSeconds = String(clock.warn_seconds)
    if (clock.idle_seconds) this.body.dataset.idleSeconds = String(clock.idle_seconds)
  }

  // Where the signed-out page goes: it says how long without activity ended the session, when the page knows.
  signedOutUrl () {
    const seconds = Number(this.body.dataset.idleSeconds)
    const after = Number.isInteger(seconds) && seconds > 0 ? `&after=${seconds}` : ''
    return `/signed-out?reason=timeout${after}`
  }

  csrfToken () {
    const meta = document.querySelector('meta[name="csrf-token"]')
    return meta ? meta.getAttribute('content') : ''
  }

  async staySignedIn () {
    if (this.busy) return
    this.busy = true
    try {
      const response = await this.fetch('/session/extend', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
        body: new URLSearchParams({ csrf_token: this.csrfToken() })
      })
      if (response.status === 401) {
        this.busy = false
        this.signOut()
        return
      }
      if (!response.ok) throw new Error(`extend answered ${response.status}`)
      this.updateClock(await response.json())
      this.busy = false
      this.close()
    } catch (error) {
      // Try the ordinary way: the form posts and the page reloads.
      this.busy = false
      this.form.submit()
    }
  }

  // Time is up. Another tab may have kept the session alive: ask before signing out.
  async timeUp () {
    this.busy = true
    try {
      const response = await this.fetch('/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      if (response.ok) {
        const clock = await response.json()
        this.updateClock(clock)
        if (this.remainingMs() > 5000) {
          this.busy = false
          if (this.remainingMs() > this.warnMs()) this.close()
          return
        }
      }
    } catch (error) {
      // Cannot tell: sign out, to be safe.
    }
    clearInterval(this.timer)
    this.signOut()
  }

  async signOut () {
    this.busy = true
    try {
      await this.fetch('/sign-out', {
        method: 'POST',
        credentials: 'same-origin',
        body: new URLSearchParams({ csrf_token: this.csrfToken(), reason: 'timeout' })
      })
    } catch (error) {
      // The session has ended on the server anyway; the page below says so.
    }
    this.navigate(this.signedOutUrl())
  }
}

export function startTimeoutWarning () {
  const dialog = document.getElementById('timeout-warning')
  const body = document.body
  if (!dialog || !body.dataset.idleExpiresAt || typeof dialog.showModal !== 'function') return null
  const warning = new TimeoutWarning(body, dialog)
  warning.start()
  return warning
}
