// Long downloads say what is happening. A PEP or a subject access export is made as a PDF when it is asked for,
// which can take a while; a plain link leaves a silent wait. A link marked data-download-status is fetched by this
// script instead, with "Preparing your download…" in a status region under it (announced by screen readers), then
// handed to the browser to save, and the status says so. Without JavaScript it is an ordinary download link.

const PREPARING = 'Preparing your download…'
const READY = 'Downloaded: '
const FAILED = 'Sorry, the file could not be prepared. Try again later.'

// The file name the server gave (Content-Disposition), else the link's last path segment.
export function fileName (disposition, href) {
  const encoded = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition || '')
  if (encoded) {
    try { return decodeURIComponent(encoded[1].trim()) } catch (e) { /* fall through to the plain name */ }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition || '')
  if (plain) return plain[1].trim()
  return new URL(href, 'http://localhost/').pathname.split('/').pop() || 'download'
}

export class DownloadStatus {
  constructor (link, { fetchFn = (...args) => window.fetch(...args), navigate = (url) => window.location.assign(url) } = {}) {
    this.link = link
    this.fetch = fetchFn
    this.navigate = navigate
    this.busy = false
    // The region is in the page before anything is said in it, so screen readers announce each change.
    this.status = document.createElement('span')
    this.status.className = 'app-download-status govuk-body-s'
    this.status.setAttribute('role', 'status')
    ;(link.closest('li, p, td, dd') || link.parentElement).append(this.status)
    link.addEventListener('click', (event) => this.start(event))
  }

  async start (event) {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    if (this.busy) return
    this.busy = true
    this.link.setAttribute('aria-busy', 'true')
    this.status.textContent = PREPARING
    try {
      const response = await this.fetch(this.link.href, { credentials: 'same-origin' })
      if (!response.ok) {
        // The portal's own page says what went wrong (signed out, not found): go there, as the link would.
        this.navigate(this.link.href)
        return
      }
      const name = fileName(response.headers.get('Content-Disposition'), this.link.href)
      const url = URL.createObjectURL(await response.blob())
      const save = document.createElement('a')
      save.href = url
      save.download = name
      save.hidden = true
      document.body.append(save)
      save.click()
      save.remove()
      setTimeout(() => URL.revokeObjectURL(url), 60000)
      this.status.textContent = READY + name
    } catch (e) {
      this.status.textContent = FAILED
    } finally {
      this.busy = false
      this.link.removeAttribute('aria-busy')
    }
  }
}

export function startDownloadStatus (root = document) {
  return [...root.querySelectorAll('a[data-download-status]')].map((link) => new DownloadStatus(link))
}
