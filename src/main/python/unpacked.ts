/**
 * Paths handed to a Python process from the packaged app. Electron reads inside `app.asar`
 * transparently, Python cannot: electron-builder.yml unpacks `python/**` next to the archive,
 * in `app.asar.unpacked`, so a path through the archive (`…/resources/app.asar/python/…`) is
 * given to Python as `…/resources/app.asar.unpacked/python/…`. Paths outside an archive (dev,
 * tests, the CLI from the repository) and paths already unpacked are returned unchanged.
 */

/** `app.asar` as a whole path segment (either separator, so Windows paths map too). */
const ASAR_SEGMENT = /(^|[\\/])app\.asar(?=[\\/]|$)/g;

export function unpackedPath(path: string): string {
  return path.replace(ASAR_SEGMENT, '$1app.asar.unpacked');
}
