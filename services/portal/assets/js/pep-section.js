// A PEP section's form, enhanced: conditional questions shown and hidden as answers change, and autosave.
//
// Without JavaScript every question shows (each conditional one says when to answer it) and the buttons save.
// Here, a question whose condition is not met is hidden by toggling `hidden` on its wrapper (its inputs keep
// their values, and are still sent, so nothing typed is ever lost). No aria-expanded goes on any input.
//
// Autosave: two seconds after typing stops, or when a changed field loses focus, the whole form is posted to
// the portal's autosave address, which saves only what changed since the version the page holds. The answer
// gives the new version (kept in the hidden field, so the next save starts from it) and words for the status
// line ("Saved at 16:02"), which is a live region. If someone else saved first, autosave stops and a banner
// offers the conflict page (its button posts the form as it is, so the typed answers go with it).
//
// Saves go one at a time, in order: never two in flight. Pressing a button while an autosave is on its way holds
// the form until that save has answered, so the form carries the version it made: a person's own autosave is
// never "someone else's" save to their own Save (no conflict, no "saved with theirs").

export const AUTOSAVE_DELAY_MS = 2000
// How long a pressed button waits for an autosave on its way before the form goes anyway (the portal still
// knows the person's own saves from someone else's).
export const SUBMIT_WAIT_MS = 10000

// Which of a form's current values a conditional question depends on: radios give the checked one,
// checkboxes every ticked one, other inputs their value.
export function currentValues (form, name) {
  const values = []
  for (const element of form.elements) {
    if (element.name !== name) continue
    if (element.type === 'radio' || element.type === 'checkbox') {
      if (element.checked) values.push(element.value)
    } else if (element.value !== '') {
      values.push(element.value)
    }
  }
  return values
}

// Which questions show is one rule, the template format's (shared/api/templates.py). The page gives each
// conditional question every condition that rule sets for it (its own, and those of the questions it depends on),
// as [{field: an input's name, equals: the values that show it}], so the script only checks them: the question
// shows when each condition's input sends one of its values.
export function conditionsMet (form, conditions) {
  return conditions.every((condition) =>
    currentValues(form, condition.field).some((value) => condition.equals.includes(value)))
}

export function shownNow (form, wrapper) {
  let conditions
  try {
    conditions = JSON.parse(wrapper.dataset.showWhen || '[]')
  } catch (error) {
    return true
  }
  return Array.isArray(conditions) ? conditionsMet(form, conditions) : true
}

export function applyConditions (form) {
  for (const wrapper of form.querySelectorAll('[data-show-when]')) {
    wrapper.hidden = !shownNow(form, wrapper)
  }
}

export class PepSection {
  constructor (form, { fetchFn = (...args) => window.fetch(...args), delay = AUTOSAVE_DELAY_MS, doc = document,
    submitWait = SUBMIT_WAIT_MS } = {}) {
    this.form = form
    this.fetch = fetchFn
    this.delay = delay
    this.submitWait = submitWait
    this.doc = doc
    this.url = form.dataset.autosaveUrl
    this.version = form.querySelector('[data-section-version]')
    this.status = doc.getElementById('autosave-status')
    this.banner = doc.getElementById('conflict-banner')
    this.dirty = false
    this.busy = false
    this.again = false
    this.stopped = false
    this.timer = null
    this.inflight = null // the autosave on its way, if any: a promise settled when it has answered
    this.holding = false // a pressed button waits for that autosave
    this.released = false // the form may now go
  }

  start () {
    // With the script, conditions are shown by hiding what does not apply: the words are not needed.
    for (const hint of this.form.querySelectorAll('.app-condition-hint')) hint.hidden = true
    applyConditions(this.form)
    this.form.addEventListener('change', (event) => {
      applyConditions(this.form)
      if (this.isAnswer(event.target)) this.changed(event.target.type === 'radio' || event.target.type === 'checkbox' ? 0 : this.delay)
    })
    this.form.addEventListener('input', (event) => {
      if (this.isAnswer(event.target)) this.changed(this.delay)
    })
    this.form.addEventListener('focusout', (event) => {
      if (this.dirty && this.isAnswer(event.target)) this.schedule(0)
    })
    // The form is being posted: the page that comes back decides, so no save may race it.
    this.form.addEventListener('submit', (event) => this.submitting(event))
    // Leaving the page (a link, a reload, closing the tab) with answers not yet saved: send them on the way out.
    window.addEventListener('pagehide', () => this.flush())
  }

  // A button was pressed (or Enter): no more autosaves. If one is on its way, the form waits for its answer, then
  // goes with the version it made, pressed by the same button.
  submitting (event) {
    this.stop()
    if (this.released) return
    if (this.holding) {
      event.preventDefault() // pressed again while waiting: the form goes once
      return
    }
    if (!this.busy || !this.inflight) return
    event.preventDefault()
    this.holding = true
    const submitter = event.submitter
    this.say('Saving…')
    let timer = null
    const waited = new Promise((resolve) => { timer = setTimeout(resolve, this.submitWait) })
    return Promise.race([this.inflight, waited]).then(() => {
      clearTimeout(timer)
      this.release(submitter)
    })
  }

  release (submitter) {
    this.released = true
    this.holding = false
    const button = submitter && submitter.form === this.form ? submitter : null
    if (typeof this.form.requestSubmit === 'function') {
      this.form.requestSubmit(button || undefined)
      return
    }
    if (button && button.name) { // an older browser: the button's value goes as a field
      const field = this.doc.createElement('input')
      field.type = 'hidden'
      field.name = button.name
      field.value = button.value
      this.form.appendChild(field)
    }
    this.form.submit()
  }

  flush () {
    if (this.stopped || !this.dirty || this.busy) return
    this.stop()
    this.fetch(this.url, this.request(true)).catch(() => {})
  }

  request (keepalive = false) {
    return {
      method: 'POST',
      credentials: 'same-origin',
      keepalive,
      headers: { Accept: 'application/json', 'X-CSRF-Token': this.csrfToken() },
      body: new URLSearchParams(new FormData(this.form))
    }
  }

  isAnswer (element) {
    return Boolean(element && element.name && element.name.startsWith('answers.'))
  }

  changed (delay) {
    if (this.stopped) return
    this.dirty = true
    this.schedule(delay)
  }

  schedule (delay) {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.save(), delay)
  }

  stop () {
    this.stopped = true
    clearTimeout(this.timer)
  }

  say (message) {
    if (this.status) this.status.textContent = message
  }

  csrfToken () {
    const field = this.form.querySelector('input[name="csrf_token"]')
    return field ? field.value : ''
  }

  async save () {
    if (this.stopped || !this.dirty) return
    if (this.busy) {
      this.again = true
      return
    }
    this.busy = true
    this.dirty = false
    this.inflight = this.send()
    await this.inflight
  }

  async send () {
    this.say('Saving…')
    try {
      const response = await this.fetch(this.url, this.request())
      let body = {}
      try {
        body = await response.json()
      } catch (error) {
        body = {}
      }
      if (response.status === 409 || body.status === 'conflict') {
        this.conflict(body)
      } else if (response.ok) {
        if (this.version && body.version !== undefined) this.version.value = String(body.version)
        if (body.idle_expires_at) this.doc.body.dataset.idleExpiresAt = body.idle_expires_at
        this.say(body.message || 'Saved')
        if (body.errors && body.errors.length) this.dirty = true
      } else {
        this.dirty = true
        this.say(body.message || 'Your latest answers are not saved yet. Use the Save button.')
      }
    } catch (error) {
      this.dirty = true
      this.say('Your latest answers are not saved yet. Use the Save button.')
    } finally {
      this.busy = false
      this.inflight = null
      if (this.again && !this.stopped) {
        this.again = false
        this.schedule(this.delay)
      }
    }
  }

  conflict (body) {
    this.stop()
    const message = body.message || 'Not saved: someone else saved this section after you opened it.'
    this.say(message)
    if (this.banner) {
      const words = this.banner.querySelector('[data-conflict-message]')
      if (words) words.textContent = `${body.by || 'Someone'} saved it${body.at ? ' on ' + body.at : ''}, after you opened it. Your latest answers have not been saved.`
      this.banner.hidden = false
    }
  }
}

export function startPepSection (doc = document) {
  const form = doc.querySelector('form[data-pep-section]')
  if (!form) return null
  const section = new PepSection(form, { doc })
  section.start()
  return section
}
