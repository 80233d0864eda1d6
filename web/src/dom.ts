// A small element builder: text goes in as text nodes (never innerHTML), listeners as on* attributes.
export type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | undefined | null | ((e: Event) => void);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else if (value !== false && value !== undefined && value !== null) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

// Explicit bidi controls (embeddings, overrides, isolates, marks) reorder the text that follows
// them: a model named "\u202E…" made its option in a list read as another model's id, with its own
// id backwards. The console's own text has none, so each one in the text it shows (every string
// goes through append or say) becomes a visible U+FFFD.
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
export const plain = (s: string): string => s.replace(BIDI_CONTROLS, '\ufffd');

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : plain(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A table cell's text that anyone may have written (a name, a label, an item id): it may wrap. */
export const userText = (s: string): HTMLSpanElement => h('span', { class: 'text' }, s);

export function table(caption: string, headers: string[], rows: Child[][]): HTMLTableElement {
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
  );
}

/** A labelled form control: the label wraps the control, so every input has an accessible name. */
export function field(label: string, control: HTMLElement): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', {}, label), control);
}

export function options(
  select: HTMLSelectElement,
  items: { value: string; text: string }[],
  keep = true,
): HTMLSelectElement {
  const previous = select.value;
  select.replaceChildren(...items.map((i) => h('option', { value: i.value }, i.text)));
  if (keep && items.some((i) => i.value === previous)) select.value = previous;
  return select;
}

let statusTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * A message in the page's live region (read out by screen readers). An error stays until the next
 * message, or until its `source` (what failed, e.g. "Listing models") settles: works again.
 */
export function say(message: string, kind: 'info' | 'error' = 'info', source = ''): void {
  const el = document.getElementById('status');
  if (!el) return;
  el.className = kind;
  el.textContent = plain(message);
  el.dataset.source = source;
  clearTimeout(statusTimer);
  if (kind === 'info') statusTimer = setTimeout(() => (el.textContent = ''), 6_000);
}

/** What failed works again: its error, if it is the one shown, goes (a stale error misleads). */
export function settle(...sources: string[]): void {
  const el = document.getElementById('status');
  if (!el || el.className !== 'error' || !sources.includes(el.dataset.source ?? '')) return;
  el.className = '';
  el.textContent = '';
  el.dataset.source = '';
}
