// Fill an npm cache with every package a learner's `npm install` can ask for, for the packages
// listed in a file (one npm spec a line, '#' comments), so that npm works offline afterwards.
//
// Usage (inside the new root, by rootfs-hook.sh):
//   node fill-npm-cache.js SPECS_FILE CACHE_DIR [LOCK_FILE ...]
// Every package version pinned by the lock files (package-lock.json v2 or v3, such as the
// assignments' reference solutions) is cached too, with its own dependencies, so that `npm ci`
// of those lock files works offline whenever the image is rebuilt.
//
// npm resolves each dependency range to the highest matching version (npm-pick-manifest, with the
// running Node's version for `engines`), but which ranges it meets depends on the order it walks
// a tree and on what it can reuse. So instead of installing a few trees, this script takes the
// closure: every range met anywhere (dependencies, optionalDependencies, non-optional
// peerDependencies) is resolved as npm would and its tarball and packument are cached, until no
// new version appears. It uses npm's own pacote (the same resolution and cache format as the npm
// that runs it) and the registry from npm's own configuration (passed in npm_config_registry).
'use strict'
const fs = require('fs')
const path = require('path')

const npmDir = path.dirname(path.dirname(fs.realpathSync(process.env.NPM_CLI || '/usr/local/bin/npm')))
const pacote = require(path.join(npmDir, 'node_modules', 'pacote'))
const npa = require(path.join(npmDir, 'node_modules', 'npm-package-arg'))

const [specsFile, cache, ...lockFiles] = process.argv.slice(2)
const registry = process.env.npm_config_registry
if (!specsFile || !cache || !registry) {
  console.error('usage: npm_config_registry=URL node fill-npm-cache.js SPECS_FILE CACHE_DIR [LOCK...]')
  process.exit(2)
}
// npm keeps its cacache store in the _cacache folder of its `cache` setting. `npm install`
// resolves ranges from full packuments; lock files of older npm versions are filled in from the
// abbreviated ("corgi") ones: both are cached.
const opts = { cache: path.join(cache, '_cacache'), registry, fullMetadata: true }
const specs = fs.readFileSync(specsFile, 'utf8').split('\n')
  .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)

// `name@version` of every registry package a lock file pins (an alias keeps its real name).
function lockedSpecs (file) {
  const lock = JSON.parse(fs.readFileSync(file, 'utf8'))
  const out = []
  for (const [where, entry] of Object.entries(lock.packages || {})) {
    if (!where || entry.link || !entry.version) continue
    if (entry.resolved && !/^https?:/.test(entry.resolved)) continue
    const name = entry.name || where.slice(where.lastIndexOf('node_modules/') + 13)
    out.push(`${name}@${entry.version}`)
  }
  return out
}
for (const f of lockFiles) specs.push(...lockedSpecs(f))

const seenSpec = new Set()
const seenVersion = new Set()
const seenCorgi = new Set()
const queue = [...specs]
let failures = 0

async function visit (spec) {
  if (seenSpec.has(spec)) return
  seenSpec.add(spec)
  let parsed
  try {
    parsed = npa(spec)
  } catch (e) {
    return
  }
  // Only registry packages: git, file and URL dependencies are not for an offline cache.
  if (!['range', 'version', 'tag', 'alias'].includes(parsed.type)) return
  let mani
  try {
    mani = await pacote.manifest(spec, opts)
  } catch (e) {
    // An optional dependency for another platform may have no version that fits: npm skips it too.
    console.error(`skip ${spec}: ${e.code || e.message}`)
    failures += 1
    return
  }
  const id = `${mani.name}@${mani.version}`
  if (seenVersion.has(id)) return
  seenVersion.add(id)
  if (!seenCorgi.has(mani.name)) {
    seenCorgi.add(mani.name)
    await cacheCorgi(mani.name)
  }
  await pacote.tarball(id, { ...opts, integrity: mani._integrity })
  const meta = mani.peerDependenciesMeta || {}
  const deps = { ...mani.optionalDependencies, ...mani.dependencies }
  for (const [n, r] of Object.entries(mani.peerDependencies || {})) {
    if (!(meta[n] && meta[n].optional)) deps[n] = r
  }
  for (const [n, r] of Object.entries(deps)) queue.push(`${n}@${r}`)
}

// The abbreviated packument, fetched from the registry even when the full one is cached and
// fresh: otherwise the cache may answer the request with the full one and store no entry for
// the abbreviated request, and npm, offline, then finds nothing for it (ENOTCACHED; this
// happened when another version of the same package was being resolved at the same time).
async function cacheCorgi (name) {
  await pacote.packument(name, { ...opts, fullMetadata: false, preferOnline: true })
}

// Both packuments of every package must be found offline, as npm will look for them.
async function verify (names) {
  const missing = []
  for (const name of names) {
    for (const fullMetadata of [false, true]) {
      try {
        await pacote.packument(name, { ...opts, fullMetadata, offline: true })
      } catch (e) {
        missing.push(`${name} (${fullMetadata ? 'full' : 'abbreviated'}): ${e.code || e.message}`)
      }
    }
  }
  return missing
}

async function main () {
  const width = 16
  while (queue.length) {
    const batch = queue.splice(0, width * 4)
    for (let i = 0; i < batch.length; i += width) {
      await Promise.all(batch.slice(i, i + width).map(visit))
    }
  }
  let missing = await verify([...seenCorgi])
  for (const line of missing) {
    await cacheCorgi(line.slice(0, line.indexOf(' ('))).catch(() => {})
  }
  if (missing.length) missing = await verify([...seenCorgi])
  if (missing.length) {
    console.error(`npm cache: not found offline:\n  ${missing.join('\n  ')}`)
    process.exit(1)
  }
  console.log(`npm cache: ${seenVersion.size} package versions from ${specs.length} specs` +
    ` (${failures} skipped); ${seenCorgi.size} packages found offline`)
}

main().catch((e) => { console.error(e); process.exit(1) })
