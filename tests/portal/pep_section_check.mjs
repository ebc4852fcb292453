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

console.log('ok')
