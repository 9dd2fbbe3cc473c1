import { createHash } from 'node:crypto'
import { documentHead, esc } from '../pages/layout.ts'

/**
 * The console's one stylesheet and one script, inline and allowed by their hashes: the strict
 * CSP lets nothing else load or run, and the node serves no files (it may run offline).
 */
const STYLE = `
:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#f6f6f8;--card:#fff;--muted:#55555e;--accent:#1f5fbf;--danger:#b3261e;--line:#d0d0d8;--ok:#1e7d32;--warn:#8a5a00;--off:#6b6b75}
@media (prefers-color-scheme:dark){:root{--fg:#e8e8ee;--bg:#121216;--card:#1d1d23;--muted:#a9a9b3;--accent:#8ab4f8;--danger:#f2b8b5;--line:#3a3a44;--ok:#81c995;--warn:#fdd663;--off:#9a9aa4}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:var(--card);padding:.4rem}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;padding:.75rem 1rem;border-bottom:1px solid var(--line);background:var(--card)}
header.top .brand{font-weight:700}nav ul{display:flex;flex-wrap:wrap;gap:.25rem .9rem;list-style:none;margin:0;padding:0}
nav a[aria-current=page]{font-weight:700;text-decoration:none;color:var(--fg)}
header.top form{margin-left:auto}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.25rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}section.card>h2:first-child{margin-top:0}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem;margin:0 0 1rem}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr))}
.table{overflow-x:auto;position:relative}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85rem;color:var(--muted);font-weight:600}td code{overflow-wrap:break-word;font-size:.85rem}dd code{font-size:.85rem}p code,dd code{overflow-wrap:anywhere}
.muted{color:var(--muted);font-size:.9rem}.problem{color:var(--danger);font-weight:600}
.status{font-weight:600}.st-online{color:var(--ok)}.st-self{color:var(--accent)}.st-offline{color:var(--off)}.st-untrusted,.st-revoked{color:var(--warn)}
label{display:block;margin:.4rem 0}
input[type=text],input[type=password],input[type=number],select{font-size:1rem;padding:.45rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg);max-width:100%}
fieldset{border:1px solid var(--line);border-radius:8px;margin:.5rem 0;padding:.4rem .75rem}legend{color:var(--muted);font-size:.9rem}
.inline{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}.inline label{margin:0}
form.row{display:inline}
button{font-size:.95rem;padding:.45rem .9rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:var(--card);cursor:pointer}
button.secondary{background:transparent;color:var(--accent)}button.danger{background:var(--danger);border-color:var(--danger)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .9rem;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.secret{display:block;padding:.6rem;border:2px dashed var(--accent);border-radius:6px;overflow-wrap:anywhere;font-size:1rem;margin:.5rem 0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--bg);padding:.5rem;border-radius:6px}
svg.hive{width:100%;height:auto;max-height:28rem}svg text{fill:var(--fg);font-size:11px}
svg .edge{stroke:var(--accent);stroke-width:2}svg .node{stroke:var(--card);stroke-width:2}
svg .n-self{fill:var(--accent)}svg .n-online{fill:var(--ok)}svg .n-offline{fill:var(--off)}svg .n-untrusted{fill:var(--warn)}
svg.chart{width:100%;height:auto}svg .bar-calls{fill:var(--accent)}svg .bar-refused{fill:var(--danger)}svg .axis{stroke:var(--line)}
.legend span{margin-right:1rem}.key{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.3em;vertical-align:-.05em}
.k-self{background:var(--accent)}.k-online{background:var(--ok)}.k-offline{background:var(--off)}.k-untrusted{background:var(--warn)}
.k-calls{background:var(--accent);border-radius:0}.k-refused{background:var(--danger);border-radius:0}
@media (max-width:40rem){main{padding:.5rem}dl{grid-template-columns:1fr}dt{margin-top:.4rem}}
`

/**
 * Live updates and copy buttons; the pages work without it. On each change the node announces
 * on /console/events, the page fetches itself again (at most once a second) and swaps in its
 * live parts, so what it shows comes from the same server-side rendering as a reload; a part
 * that did not change is left alone, and the keyboard focus stays where it was. It also
 * does so each time the stream (re)opens: a change between the page's rendering and the
 * stream's start, or while it was cut, would otherwise be missed.
 */
const SCRIPT = `(()=>{
for(const b of document.querySelectorAll('button[data-copy]')){b.hidden=false;b.addEventListener('click',async()=>{const t=document.getElementById(b.dataset.copy);if(!t)return
try{await navigator.clipboard.writeText(t.textContent);b.textContent='Copied'}catch{b.textContent='Select and copy by hand'}})}
if(!document.querySelector('[data-live]')||!window.EventSource)return
const state=t=>{const s=document.getElementById('live-state');if(s)s.textContent=t}
state('Live: changes show as they happen.')
let due=null,busy=false
const swap=async()=>{due=null;if(busy){due=setTimeout(swap,1000);return}busy=true
try{const r=await fetch(location.href,{headers:{'x-console-live':'1'},credentials:'same-origin',redirect:'manual'})
if(r.type==='opaqueredirect'||r.status===401){location.reload();return}
if(!r.ok)return
const doc=new DOMParser().parseFromString(await r.text(),'text/html')
for(const el of document.querySelectorAll('[data-live]')){const n=doc.getElementById(el.id);if(!n||n.outerHTML===el.outerHTML)continue
const path=[];for(let f=document.activeElement;f&&f!==el&&el.contains(f);f=f.parentElement)path.unshift([...f.parentElement.children].indexOf(f))
const fresh=document.importNode(n,true);el.replaceWith(fresh)
if(path.length){let f=fresh;for(const i of path)f=f&&f.children[i];(f||fresh).focus?.()}}
state('Live: updated '+new Date().toLocaleTimeString())}
finally{busy=false}}
const es=new EventSource('/console/events')
es.addEventListener('change',()=>{if(due===null)due=setTimeout(swap,250)})
es.addEventListener('end',()=>{es.close();location.reload()})
es.onerror=()=>state('Live updates paused: reconnecting.')
es.onopen=()=>{state('Live: changes show as they happen.');if(due===null)due=setTimeout(swap,250)}
})()`

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/**
 * The console's Content-Security-Policy: nothing but its own style and script; fetches and the
 * event stream only to this node; forms only to this node; never framed.
 */
export const CONSOLE_CSP = `default-src 'none'; style-src ${hash(STYLE)}; script-src ${hash(SCRIPT)}; connect-src 'self'; img-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`

export type ConsoleSection = 'hive' | 'node' | 'agents' | 'apps' | 'activity'

const NAV: Array<[ConsoleSection, string]> = [['hive', 'Hive'], ['node', 'This node'], ['agents', 'Agents'], ['apps', 'Apps'], ['activity', 'Activity']]

/** A whole console page; `body` is trusted HTML built with `esc`. Without `csrf`, no navigation (signed out). */
export function consolePage (o: { nodeName: string, title: string, section?: ConsoleSection | undefined, csrf?: string | undefined, body: string }): string {
  const nav = o.csrf === undefined
    ? ''
    : `<nav aria-label="Console"><ul>${NAV.map(([id, label]) => `<li><a href="/console/${id}"${id === o.section ? ' aria-current="page"' : ''}>${label}</a></li>`).join('')}</ul></nav>
<form method="post" action="/console/sign-out"><input type="hidden" name="csrf" value="${esc(o.csrf)}"><button type="submit" class="secondary">Sign out</button></form>`
  return `${documentHead(`${o.title} · ${o.nodeName} · Edge Hive`, STYLE)}
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><span class="brand">Edge Hive · ${esc(o.nodeName)}</span>
${nav}
</header>
<main id="main">
<h1>${esc(o.title)}</h1>
${o.body}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`
}

/** A table with a caption for screen readers; `rows` are trusted HTML rows. */
export function table (caption: string, head: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${esc(empty)}</p>`
  // Focusable and named: a table wider than a phone scrolls inside its box, by keyboard too.
  return `<div class="table" tabindex="0" role="region" aria-label="${esc(caption)}"><table><caption class="sr">${esc(caption)}</caption>
<thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>`
}

/** Text cut to `n` characters, with an ellipsis when cut (names other people chose may be long). */
export function cut (text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text
}

/** A table row: each cell trusted HTML, or `[class, html]` for a cell with a class. */
export function tr (attributes: string, cells: Array<string | [string, string]>): string {
  const td = (c: string | [string, string]): string => typeof c === 'string' ? `<td>${c}</td>` : `<td class="${c[0]}">${c[1]}</td>`
  return `<tr${attributes}>${cells.map(td).join('')}</tr>`
}

/** Codes in a cell, or a dash for none. */
export function codes (items: string[]): string {
  return items.map((s) => `<code>${esc(s)}</code>`).join(' ') || '—'
}

/** A time as people read it in a table: `2026-12-03 10:41:07 UTC`. */
export function when (iso: string | Date | undefined): string {
  if (iso === undefined) return '—'
  const d = typeof iso === 'string' ? new Date(iso) : iso
  return Number.isNaN(d.getTime()) ? '—' : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}
