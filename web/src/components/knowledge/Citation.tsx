// Where a passage of a knowledge base came from: a link to its source and the passage itself.
// Used by the knowledge base page's "Try a question" box, and by chat answers' citations
// (`CitationLink`, `citationSource`): everything it needs is in a query hit or a citation
// (source, title, section, page, snippet, knowledge base id and document id; a citation also
// has the address the server says it opens at).
import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from "react";
import { ApiError, errorMessage, messageOf, type Citation as CitationOut } from "../../api/client";
import type { Credentials } from "../../auth";

/** How a source was added: a URL opens the page; an uploaded file opens the stored original;
 *  inline text has nothing to open. Unknown: a URL when it looks like one, else a file. */
export type SourceKind = "file" | "url" | "text";

export interface SourceRef {
  source: string;
  title?: string | null;
  section?: string | null;
  page?: number | null;
  kbId: string;
  documentId: string;
  kind?: SourceKind;
  /** Where the server says it opens (a citation's `url`; null: inline text). When given, it
   *  is used as it is. */
  url?: string | null;
}

// What the server shows inline (the rest downloads): homeport/api/routers/knowledge.py.
const INLINE_TYPES = new Set(["application/pdf", "text/plain", "text/markdown", "text/csv"]);
const WEB_PAGE = /^https?:\/\//i;

function kindOf(ref: SourceRef): SourceKind {
  if (ref.kind) return ref.kind;
  if (ref.url === null) return "text";
  return WEB_PAGE.test(ref.url ?? ref.source) ? "url" : "file";
}

/** The address a source opens at: the page for a URL, the stored original for a file (PDFs at
 *  their page), none for inline text. */
export function sourceHref(ref: SourceRef): string | null {
  const kind = kindOf(ref);
  if (kind === "text") return null;
  if (ref.url) return ref.url;
  if (kind === "url") return ref.source;
  const kb = encodeURIComponent(ref.kbId);
  const document = encodeURIComponent(ref.documentId);
  const page = ref.page ? `#page=${ref.page}` : "";
  return `/api/v1/knowledge/${kb}/documents/${document}/file${page}`;
}

/** Where a passage opens: its source's address; a web page with no fragment of its own gets
 *  a text fragment (`#:~:text=`) with the passage's first words, so the browser scrolls to
 *  (and highlights) them. */
export function passageHref(ref: SourceRef, snippet: string): string | null {
  const href = sourceHref(ref);
  if (!href || kindOf(ref) !== "url" || href.includes("#")) return href;
  const words = firstWords(snippet);
  return words ? `${href}#:~:text=${encodeTextDirective(words)}` : href;
}

/** The first few words of a passage as a page shows them: from its first line with some
 *  words, without Markdown's marks (a text fragment matches rendered text, within a block). */
export function firstWords(snippet: string, count = 6): string | null {
  for (const line of snippet.split("\n")) {
    const plain = line
      .replace(/^\s*(?:#{1,6}|[-*+>]|\d+[.)])\s+/, "")
      .replace(/\]\([^)]*\)/g, "")
      .replace(/[*_`~[\]]/g, "");
    const words = plain.split(/\s+/).filter(Boolean);
    if (words.length >= 3) return words.slice(0, count).join(" ");
  }
  return null;
}

/** A text directive's own syntax uses `-`, `,` and `&`: they are escaped too. */
function encodeTextDirective(text: string): string {
  return encodeURIComponent(text).replace(/-/g, "%2D");
}

/** "Visiting · page 2": where in its document a passage is. */
export function locationOf(section?: string | null, page?: number | null): string {
  return [section, page ? `page ${page}` : null].filter(Boolean).join(" · ");
}

/** A chat answer's citation as a source reference. */
export function citationSource(citation: CitationOut): SourceRef {
  return {
    source: citation.source,
    title: citation.title,
    section: citation.section,
    page: citation.page,
    kbId: citation.knowledge_base,
    documentId: citation.document_id,
    url: citation.url,
  };
}

type AnchorAttributes = Pick<
  AnchorHTMLAttributes<HTMLAnchorElement>,
  "className" | "aria-label" | "aria-describedby"
>;

/** A link to a passage's source (named after it, unless `children` say otherwise; `passage`
 *  scrolls a web page to it). Uploaded files need the caller's credentials: a session cookie
 *  goes with a plain link; an API key is sent by fetching the file here and opening what came
 *  back. */
export function SourceLink(
  props: {
    source: SourceRef;
    credentials: Credentials;
    onError?: (message: string) => void;
    passage?: string;
    children?: ReactNode;
  } & AnchorAttributes,
) {
  const { source, credentials, onError, passage, children, ...attributes } = props;
  const href = passage === undefined ? sourceHref(source) : passageHref(source, passage);
  if (!href) return <span className="source-name">{children ?? source.source}</span>;
  const external = kindOf(source) === "url";
  const defaultTitle = external ? source.source : `Open ${source.source}`;

  function open(event: MouseEvent<HTMLAnchorElement>) {
    if (external || credentials.kind !== "key" || !href) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    void openWithKey(href, credentials.key, source.source).catch((failure: unknown) =>
      onError?.(`Could not open ${source.source}: ${messageOf(failure)}`),
    );
  }

  return (
    <a
      className="source-name"
      // Custom content is described by its caller (a citation's tooltip).
      title={children === undefined ? defaultTitle : undefined}
      {...attributes}
      href={href}
      target="_blank"
      rel="noopener noreferrer"
      onClick={open}
    >
      {children ?? source.source}
    </a>
  );
}

/** Fetch a stored file with an API key and open it in a new tab (PDF and text), or save it. */
async function openWithKey(href: string, key: string, name: string): Promise<void> {
  const [path = href, fragment = ""] = href.split("#");
  // Opened now, while the click still counts as the user's: a tab opened later is blocked.
  const tab = window.open("", "_blank");
  try {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${key}` } });
    if (!response.ok) {
      const body: unknown = await response.json().catch(() => null);
      throw new ApiError(errorMessage(body, response), response.status);
    }
    const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
    const data = await response.blob();
    if (tab && INLINE_TYPES.has(type)) {
      // Text is shown as plain text whatever it claims to be, so it never runs as a page here.
      const shown = type === "application/pdf" ? type : "text/plain;charset=utf-8";
      const url = URL.createObjectURL(new Blob([data], { type: shown }));
      tab.location.href = fragment ? `${url}#${fragment}` : url;
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
      return;
    }
    tab?.close();
    save(data, name);
  } catch (failure) {
    tab?.close();
    throw failure;
  }
}

function save(data: Blob, name: string): void {
  const url = URL.createObjectURL(data);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A passage with its source: the link, where in the document it is, the text, the score. */
export function Citation(props: {
  source: SourceRef;
  snippet: string;
  score?: number;
  credentials: Credentials;
  onError?: (message: string) => void;
}) {
  const { source, snippet, score } = props;
  const location = locationOf(source.section, source.page);
  const title = source.title && source.title !== source.source ? source.title : null;
  return (
    <article className="citation" aria-label={`From ${source.source}`}>
      <header className="citation-head">
        <SourceLink source={source} credentials={props.credentials} onError={props.onError} />
        {title && <span className="citation-title">{title}</span>}
        {location && <span className="citation-location">{location}</span>}
        {score !== undefined && (
          <span className="hint citation-score" title="Relevance score">
            score {score.toFixed(3)}
          </span>
        )}
      </header>
      <blockquote className="snippet">{snippet}</blockquote>
    </article>
  );
}
