import type { Citation } from "../api/client";
import type { Credentials } from "../auth";
import { CitationLink } from "./knowledge/CitationLink";

interface Props {
  citations: Citation[];
  credentials: Credentials;
  onError?: (message: string) => void;
}

/** The sources an answer was grounded in, under it: those its text cites first; the others
 *  (shown to the model, not cited) folded away, unless nothing was cited. */
export function SourcesList({ citations, credentials, onError }: Props) {
  if (citations.length === 0) return null;
  const byIndex = [...citations].sort((a, b) => a.index - b.index);
  const cited = byIndex.filter((c) => c.cited);
  const others = byIndex.filter((c) => !c.cited);
  const item = (citation: Citation) => (
    <SourceItem
      key={citation.index}
      citation={citation}
      credentials={credentials}
      onError={onError}
    />
  );
  return (
    <section className="sources" aria-label="Sources">
      <h2 className="sources-title">Sources</h2>
      {cited.length > 0 ? (
        <>
          <ol className="sources-list">{cited.map(item)}</ol>
          {others.length > 0 && (
            <details className="sources-more">
              <summary>
                {others.length === 1 ? "1 more passage" : `${others.length} more passages`}{" "}
                consulted, not cited
              </summary>
              <ol className="sources-list">{others.map(item)}</ol>
            </details>
          )}
        </>
      ) : (
        <ol className="sources-list">{others.map(item)}</ol>
      )}
    </section>
  );
}

function SourceItem(props: { citation: Citation } & Omit<Props, "citations">) {
  const { citation, credentials, onError } = props;
  return (
    <li className={citation.cited ? "cited" : undefined}>
      <span className="source-number">[{citation.index}]</span>
      <CitationLink
        citation={citation}
        credentials={credentials}
        onError={onError}
        className="source-name"
      >
        {citation.source}
      </CitationLink>
      {citation.location && <span className="source-location">{citation.location}</span>}
    </li>
  );
}
