// A remark plugin: the `[n]` markers in an answer's Markdown text that match a citation become
// `<cite data-index="n">` elements, which the answer renders as citation links. Markers inside
// code (inline or fenced) are code, and stay as they are.
import type { Parent, PhrasingContent, Root, RootContent } from "mdast";

// "[1]", "[2][3]" and "[1, 2]": the model cites the numbered sources it was shown.
const MARKERS = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

type Cited = (index: number) => boolean;

export function remarkCitations(options: { cited: Cited }) {
  return (tree: Root) => {
    markParent(tree, options.cited);
  };
}

/** `text` cut at its `[n]` markers that match a citation: plain strings, and the numbers each
 *  marker names. A marker naming a number that is not a citation stays text. */
export function splitMarkers(text: string, cited: Cited): (string | number)[] {
  const parts: (string | number)[] = [];
  let at = 0;
  for (const match of text.matchAll(MARKERS)) {
    const numbers = (match[1] ?? "").split(",").map((n) => Number(n.trim()));
    if (!numbers.every(cited)) continue; // not one of ours: plain text
    parts.push(text.slice(at, match.index), ...numbers);
    at = match.index + match[0].length;
  }
  parts.push(text.slice(at));
  return parts.filter((part) => part !== "");
}

function markParent(parent: Parent, cited: Cited): void {
  parent.children = parent.children.flatMap((child: RootContent): RootContent[] => {
    if (child.type === "text") return splitMarkers(child.value, cited).map(toNode);
    if ("children" in child) markParent(child, cited);
    return [child];
  });
}

function toNode(part: string | number): PhrasingContent {
  if (typeof part === "string") return { type: "text", value: part };
  // mdast has no citation node: an empty emphasis that `data` renders as a `<cite>` element.
  return {
    type: "emphasis",
    children: [],
    data: { hName: "cite", hProperties: { dataIndex: part } },
  };
}
