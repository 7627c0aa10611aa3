// An assistant's answer as GitHub-flavoured Markdown. The model's output is untrusted: raw HTML
// in it is shown as text (react-markdown renders none), only http(s) and mailto links are
// links (opened in a new tab), and images are not loaded, only linked.
import { useMemo, type ComponentProps } from "react";
import Markdown, { type Components, type ExtraProps, type Options } from "react-markdown";
import rehypeHighlight from "rehype-highlight";
import remarkGfm from "remark-gfm";
import type { Citation } from "../api/client";
import type { Credentials } from "../auth";
import { CitationLink } from "./knowledge/CitationLink";
import { CodeBlock } from "./markdown/CodeBlock";
import { remarkCitations } from "./markdown/remarkCitations";

const SAFE_URL = /^(https?:|mailto:)/i;

interface Props {
  content: string;
  citations: Citation[];
  credentials: Credentials;
  onError?: (message: string) => void;
}

/** The answer's Markdown, its `[n]` markers (those that match a citation) as superscript
 *  links to the cited source with the passage on hover and focus; fenced code highlighted,
 *  with a Copy button. Re-rendered whole as a streamed answer grows. */
export function AnswerText({ content, citations, credentials, onError }: Props) {
  const byIndex = useMemo(() => new Map(citations.map((c) => [c.index, c])), [citations]);
  const components = useMemo<Components>(
    () => ({
      a: SafeLink,
      img: ImageLink,
      pre: CodeBlock,
      cite: ({ node }) => {
        const citation = byIndex.get(Number(node?.properties.dataIndex));
        if (!citation) return null;
        return <CitationMark citation={citation} credentials={credentials} onError={onError} />;
      },
    }),
    [byIndex, credentials, onError],
  );
  const remarkPlugins = useMemo<Options["remarkPlugins"]>(
    () => [remarkGfm, [remarkCitations, { cited: (n: number) => byIndex.has(n) }]],
    [byIndex],
  );
  return (
    <Markdown
      remarkPlugins={remarkPlugins}
      rehypePlugins={[rehypeHighlight]}
      components={components}
    >
      {content}
    </Markdown>
  );
}

/** One `[n]` marker as a superscript link to the cited source. */
function CitationMark(props: Omit<Props, "content" | "citations"> & { citation: Citation }) {
  const { citation } = props;
  return (
    <CitationLink
      citation={citation}
      credentials={props.credentials}
      onError={props.onError}
      className="cite-mark"
      label={`Source ${citation.index}: ${citation.source}`}
    >
      <sup>[{citation.index}]</sup>
    </CitationLink>
  );
}

function SafeLink({ href, children }: ComponentProps<"a"> & ExtraProps) {
  if (!href || !SAFE_URL.test(href)) return <span className="unlinked">{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}

/** An image the model points to is a link to it, not a request for it (no tracking pixels,
 *  nothing fetched from outside by merely reading). */
function ImageLink({ src, alt }: ComponentProps<"img"> & ExtraProps) {
  const label = alt || "image";
  return typeof src === "string" ? <SafeLink href={src}>{label}</SafeLink> : <>{label}</>;
}
