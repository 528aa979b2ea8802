// Building the page from data: elements and text nodes only, never HTML strings, so nothing a run
// carries (tokens, tags, messages) can become markup.

type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | undefined>;

/** `<tag attributes…>children…</tag>`; `class` and `data-*` are attributes like any other. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `parent`. */
export function fill(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** `text` with its `code spans` as <code>, as the README writes commands. */
export function withCode(text: string): Node[] {
  return text
    .split("`")
    .map((part, i) => (i % 2 === 1 ? h("code", {}, part) : document.createTextNode(part)));
}

/** A table with a header row; each cell carries its column's name for the narrow-screen layout. */
export function table(caption: string, columns: string[], body: HTMLTableSectionElement): HTMLTableElement {
  return h(
    "table",
    { class: "grid" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, ...columns.map((column) => h("th", { scope: "col" }, column)))),
    body,
  );
}

/** One body row: cells in column order, labelled for the narrow layout. */
export function row(columns: string[], cells: Child[], attributes: Attributes = {}): HTMLTableRowElement {
  return h("tr", attributes, ...cells.map((cell, i) => h("td", { "data-label": columns[i] ?? "" }, cell)));
}
