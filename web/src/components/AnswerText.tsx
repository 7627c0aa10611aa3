import type { ReactNode } from "react";
import type { Citation } from "../api/client";
import type { Credentials } from "../auth";
import { CitationLink } from "./knowledge/CitationLink";

// "[1]", "[2][3]" and "[1, 2]": the model cites the numbered sources it was shown.
const MARKERS = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

/** An answer's text, its `[n]` markers (those that match a citation) as superscript links to
 *  the cited source with the passage on hover and focus. Other text is left as it is. */
export function AnswerText(props: {
  content: string;
  citations: Citation[];
  credentials: Credentials;
  onError?: (message: string) => void;
}) {
  const { content, citations } = props;
  if (citations.length === 0) return <>{content}</>;
  const byIndex = new Map(citations.map((c) => [c.index, c]));
  const parts: ReactNode[] = [];
  let at = 0;
  for (const match of content.matchAll(MARKERS)) {
    const numbers = (match[1] ?? "").split(",").map((n) => Number(n.trim()));
    const cited = numbers.map((n) => byIndex.get(n));
    if (!cited.every((c) => c !== undefined)) continue; // not one of ours: plain text
    parts.push(content.slice(at, match.index));
    for (const citation of cited) {
      parts.push(
        <CitationLink
          key={`${match.index}-${citation.index}`}
          citation={citation}
          credentials={props.credentials}
          onError={props.onError}
          className="cite-mark"
          label={`Source ${citation.index}: ${citation.source}`}
        >
          <sup>[{citation.index}]</sup>
        </CitationLink>,
      );
    }
    at = match.index + match[0].length;
  }
  parts.push(content.slice(at));
  return <>{parts}</>;
}
