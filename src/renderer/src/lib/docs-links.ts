/**
 * Links from the UI into the docs (docs/*.md in the repository). They are written relative to
 * the app's page, "docs/<page>.html#<section>", and opened with target="_blank": browser mode's
 * server renders docs/<page>.md at /docs/<page>.html, and the desktop app's window hands such
 * links to the system browser through its own docs server (src/main/docs). The section ids
 * are GitHub's heading slugs, so the same #anchors work on the Markdown files themselves.
 */

/** The docs' index page (docs/README.md). */
export const DOCS_INDEX_HREF = 'docs/';

/** A docs page (file name without .md) and optionally one of its sections. */
export function docsHref(page: string, section?: string): string {
  return `docs/${page}.html${section ? `#${section}` : ''}`;
}

/**
 * The section id of a New run field in docs/run-settings.md, whose headings are the fields'
 * config paths in backticks: "negative.cropMin" -> "negativecropmin" (GitHub drops the dot).
 */
export function fieldSection(path: string): string {
  return path.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

/** Where a New run field's help link points. */
export function fieldDocHref(path: string): string {
  return docsHref('run-settings', fieldSection(path));
}
