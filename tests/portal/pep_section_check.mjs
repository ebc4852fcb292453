// Checks the PEP section script's logic in Node with a fake form: run by test_pep_section_js.py.
import assert from 'node:assert/strict'
import { applyConditions, currentValues, PepSection, shownNow } from '../../services/portal/assets/js/pep-section.js'

function input (name, value, type = 'text', checked = false) {
  return { name, value, type, checked }
}

// A conditional question as the page draws it: every condition the shared rule sets for it, as data.
function wrapper (...conditions) {
  return { dataset: { showWhen: JSON.stringify(conditions.map(([field, equals]) => ({ field, equals }))) }, hidden: false }
}

const excluded = [input('answers.excluded', 'yes', 'radio'), input('answers.excluded', 'no', 'radio', true)]
const needs = [input('answers.needs', 'sld', 'checkbox', true), input('answers.needs', 'semh', 'checkbox')]
const version = input('version', '4', 'hidden')
const strategies = wrapper(['answers.excluded', ['yes']])
const semh = wrapper(['answers.needs', ['semh']])
const sld = wrapper(['answers.needs', ['sld']])
// Revealed by `sld`, which is itself revealed by `excluded`: hidden whenever either condition is not met.
const support = wrapper(['answers.needs', ['sld']], ['answers.excluded', ['yes']])
const form = {
  elements: [...excluded, ...needs, input('answers.notes', ''), version, input('csrf_token', 'token', 'hidden')],
  dataset: { autosaveUrl: '/peps/p/sections/education/autosave' },
  querySelectorAll: (selector) => selector === '[data-show-when]' ? [strategies, semh, sld, support] : [],
  querySelector: (selector) => selector === '[data-section-version]' ? version : selector === 'input[name="csrf_token"]' ? { value: 'token' } : null,
  addEventListener () {}
}

// Radios give the checked value, checkboxes every ticked one, and an empty box nothing.
assert.deepEqual(currentValues(form, 'answers.excluded'), ['no'])
assert.deepEqual(currentValues(form, 'answers.needs'), ['sld'])
assert.deepEqual(currentValues(form, 'answers.notes'), [])
assert.equal(shownNow(form, strategies), false)
applyConditions(form)
assert.deepEqual([strategies.hidden, semh.hidden, sld.hidden, support.hidden], [true, true, false, true])
excluded[0].checked = true
excluded[1].checked = false
applyConditions(form)
assert.deepEqual([strategies.hidden, support.hidden], [false, false])
assert.equal(shownNow(form, { dataset: { showWhen: 'not json' } }), true)
assert.equal(shownNow(form, { dataset: {} }), true)

// Autosave: the new version is kept; a conflict stops saving and shows the banner; a failure keeps the answers
// waiting to be saved.
globalThis.FormData = class { constructor () { return [['answers.notes', 'x'], ['version', version.value]] } }
const status = { textContent: '' }
const message = { textContent: '' }
const banner = { hidden: true, querySelector: () => message }
const doc = { body: { dataset: {} }, getElementById: (id) => ({ 'autosave-status': status, 'conflict-banner': banner })[id] }
const answers = []
let reply = { status: 200, body: { status: 'saved', version: 5, message: 'Saved at 16:02', idle_expires_at: 'later', errors: [] } }
const section = new PepSection(form, {
  doc,
  delay: 0,
  fetchFn: async (url, options) => {
    answers.push([url, options.headers['X-CSRF-Token'], String(options.body)])
    return { status: reply.status, ok: reply.status < 300, json: async () => reply.body }
  }
})
section.dirty = true
await section.save()
assert.deepEqual(answers, [['/peps/p/sections/education/autosave', 'token', 'answers.notes=x&version=4']])
assert.equal(version.value, '5')
assert.equal(status.textContent, 'Saved at 16:02')
assert.equal(doc.body.dataset.idleExpiresAt, 'later')
assert.equal(section.dirty, false)

await section.save() // nothing changed: nothing sent
assert.equal(answers.length, 1)

reply = { status: 503, body: { message: 'Your answers could not be saved just now. Try again shortly.' } }
section.dirty = true
await section.save()
assert.equal(section.dirty, true)
assert.equal(status.textContent, 'Your answers could not be saved just now. Try again shortly.')

reply = { status: 409, body: { status: 'conflict', by: 'Sol Staff', at: '5 January 2027 at 4:05pm', message: 'Not saved: Sol Staff saved this section.' } }
await section.save()
assert.equal(section.stopped, true)
assert.equal(banner.hidden, false)
assert.match(message.textContent, /^Sol Staff saved it on 5 January 2027 at 4:05pm/)
assert.equal(version.value, '5') // the conflict page needs the version the answers started from
section.changed(0)
section.flush()
assert.equal(answers.length, 3) // stopped: nothing more is sent

// Pressing Save and continue while an autosave is on its way: the form waits for that save's answer, then goes
// once, pressed by the same button, carrying the version the autosave made. With nothing on its way it goes at once.
{
  const held = input('version', '7', 'hidden')
  const pressed = []
  const heldForm = {
    ...form,
    querySelector: (selector) => selector === '[data-section-version]' ? held : null,
    requestSubmit (button) { pressed.push([button, held.value]) }
  }
  let answer
  const waiting = new PepSection(heldForm, {
    doc,
    delay: 0,
    fetchFn: () => new Promise((resolve) => { answer = resolve })
  })
  waiting.dirty = true
  const saving = waiting.save()
  assert.equal(waiting.busy, true)
  const button = { form: heldForm, name: 'action', value: 'continue' }
  let prevented = 0
  const event = { submitter: button, preventDefault () { prevented += 1 } }
  const going = waiting.submitting(event)
  waiting.submitting(event) // pressed again while waiting: still only one form
  assert.equal(prevented, 2)
  assert.deepEqual(pressed, [])
  answer({ status: 200, ok: true, json: async () => ({ status: 'saved', version: 8, message: 'Saved at 16:03' }) })
  await saving
  await going
  assert.deepEqual(pressed, [[button, '8']])
  waiting.submitting(event) // the form going now is let through
  assert.equal(prevented, 2)
  assert.equal(waiting.stopped, true)

  const idle = new PepSection(heldForm, { doc, delay: 0, fetchFn: async () => { throw new Error('not sent') } })
  let idlePrevented = false
  idle.submitting({ submitter: button, preventDefault () { idlePrevented = true } })
  assert.equal(idlePrevented, false) // nothing on its way: the form goes at once

  // An autosave that never answers holds the form only so long.
  const hung = new PepSection(heldForm, { doc, delay: 0, submitWait: 5, fetchFn: () => new Promise(() => {}) })
  hung.dirty = true
  hung.save()
  await hung.submitting({ submitter: button, preventDefault () {} })
  assert.equal(pressed.length, 2)
}

console.log('ok')
