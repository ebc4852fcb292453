// Progressive enhancement only: every page works without JavaScript.
// Loaded as a module, so it runs only in browsers GOV.UK Frontend supports.
import { initAll } from './govuk-frontend.min.js'
import { startTimeoutWarning } from './timeout-warning.js'
import { startPepSection } from './pep-section.js'
import { startDownloadStatus } from './download-status.js'

initAll()
startTimeoutWarning()
startPepSection()
startDownloadStatus()
