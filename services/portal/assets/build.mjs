// Builds the portal's front-end assets into services/portal/static/dist/ (git-ignored):
// GOV.UK Frontend's Sass compiled with Arial (a council service: no GDS Transport font, no crown),
// GOV.UK Frontend's ES module, our own modules (one initialises it), and images. Run: npm run build:portal
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import * as sass from 'sass'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, '..', 'static', 'dist')
const require = createRequire(import.meta.url)
const govuk = join(dirname(require.resolve('govuk-frontend/package.json')), 'dist', 'govuk')

rmSync(dist, { recursive: true, force: true })
mkdirSync(join(dist, 'images'), { recursive: true })

const css = sass.compile(join(here, 'scss', 'portal.scss'), {
  style: 'compressed',
  importers: [new sass.NodePackageImporter()],
  quietDeps: true
})
writeFileSync(join(dist, 'portal.css'), css.css)

for (const file of ['govuk-frontend.min.js', 'govuk-frontend.min.js.map']) {
  copyFileSync(join(govuk, file), join(dist, file))
}
// Our own modules (portal.js imports the others), served as they are.
for (const file of readdirSync(join(here, 'js')).filter((name) => name.endsWith('.js'))) {
  copyFileSync(join(here, 'js', file), join(dist, file))
}
// GOV.UK Frontend's images, then ours (our favicon is not the crown). Its fonts are not copied.
cpSync(join(govuk, 'assets', 'images'), join(dist, 'images'), { recursive: true })
cpSync(join(here, 'images'), join(dist, 'images'), { recursive: true })
console.log(`portal assets built in ${dist}`)
