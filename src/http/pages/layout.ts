import { createHash } from 'node:crypto'

/**
 * The browser pages people see (sign-in, consent, device codes, errors): plain server-rendered
 * HTML that works without JavaScript, readable on a phone, with no external assets (a node may
 * run offline). The one inline style is allowed by its hash; nothing else may load or run.
 */

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#f6f6f8;--card:#fff;--muted:#5d5d66;--accent:#1f5fbf;--danger:#b3261e;--line:#d8d8de}
@media (prefers-color-scheme:dark){:root{--fg:#e8e8ee;--bg:#121216;--card:#1d1d23;--muted:#a3a3ad;--accent:#8ab4f8;--danger:#f2b8b5;--line:#34343c}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.25rem 1.25rem 1rem}
h1{font-size:1.35rem;margin:0 0 .75rem}header{color:var(--muted);font-size:.9rem;margin-bottom:1rem}
p{margin:.5rem 0}.muted{color:var(--muted);font-size:.9rem}.problem{color:var(--danger);font-weight:600}
label{display:block;margin:.5rem 0}input[type=password],input[type=text]{width:100%;font-size:1.1rem;padding:.6rem;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--fg)}
input[name=user_code]{text-transform:uppercase;text-align:center;letter-spacing:.15em}
fieldset{border:1px solid var(--line);border-radius:8px;margin:.75rem 0;padding:.5rem .75rem}legend{color:var(--muted);font-size:.9rem}
.scope{display:flex;gap:.6rem;align-items:flex-start;margin:.4rem 0}.scope code{font-weight:600}
.actions{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1rem}
button{font-size:1rem;padding:.6rem 1.1rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:var(--card);cursor:pointer}
button.secondary{background:transparent;color:var(--accent)}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .75rem;margin:.5rem 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
code.user-code{font-size:1.6rem;letter-spacing:.15em}
`

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64')

/** The Content-Security-Policy of every page: only the page's own style; no scripts, frames or loads. */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; base-uri 'none'; frame-ancestors 'none'`

/** Escapes text for HTML content and attribute values. */
export function esc (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** The start of every page the node serves, up to `<body>`: `title` is text, `style` trusted CSS. */
export function documentHead (title: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title>
<style>${style}</style>
</head>`
}

/** A whole page: `body` is trusted HTML built with `esc`. */
export function page (nodeName: string, title: string, body: string): string {
  return `${documentHead(`${title} · ${nodeName}`, STYLE)}
<body>
<main>
<header>Edge Hive node <strong>${esc(nodeName)}</strong></header>
<div class="card">
<h1>${esc(title)}</h1>
${body}
</div>
</main>
</body>
</html>
`
}
