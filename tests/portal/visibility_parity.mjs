// The page's side of the visibility parity check (test_pep_section_js.py). Given on stdin, for each case, the values
// a section's form holds (input name -> text, or a list for ticked checkboxes) and each question's conditions as
// the page is given them (the `data-show-when` text; none for a question always shown), it prints which show.
import { readFileSync } from 'node:fs'
import { shownNow } from '../../services/portal/assets/js/pep-section.js'

const { cases } = JSON.parse(readFileSync(0, 'utf8'))
const results = cases.map(({ raw, questions }) => {
  const elements = []
  for (const [name, value] of Object.entries(raw)) {
    if (Array.isArray(value)) {
      for (const v of value) elements.push({ name, value: v, type: 'checkbox', checked: true })
    } else if (value === 'yes' || value === 'no') {
      for (const v of ['yes', 'no']) elements.push({ name, value: v, type: 'radio', checked: v === value })
    } else {
      elements.push({ name, value, type: 'text', checked: false })
    }
  }
  const form = { elements }
  const dataset = (showWhen) => (showWhen === null ? {} : { showWhen })
  return Object.fromEntries(questions.map(({ path, show_when: showWhen }) =>
    [path, shownNow(form, { dataset: dataset(showWhen) })]))
})
console.log(JSON.stringify(results))
