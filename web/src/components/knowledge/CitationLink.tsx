// A chat answer's citation as a link to its source, opened at the passage, with the passage
// (title, where it is, the snippet) in a tooltip shown on hover and on keyboard focus.
import { useEffect, useId, useLayoutEffect, useRef, useState, type ReactNode } from "react";
import type { Citation } from "../../api/client";
import type { Credentials } from "../../auth";
import { SourceLink, citationSource, sourceHref } from "./Citation";

const SNIPPET_CHARS = 360;
const HIDE_DELAY_MS = 150; // time to move the pointer from the link onto the tooltip
const MARGIN = 8;

interface Place {
  left: number;
  top: number;
}

/** `children` is the link's content (`[1]`, or the source's name); `className` styles the
 *  link. The tooltip stays while the pointer is on it; Escape hides it. */
export function CitationLink(props: {
  citation: Citation;
  credentials: Credentials;
  onError?: (message: string) => void;
  className?: string;
  label?: string;
  children: ReactNode;
}) {
  const { citation, className, label } = props;
  const tipId = useId();
  const tip = useTooltip();
  const source = citationSource(citation);
  const opens = sourceHref(source) !== null;

  return (
    <span
      className="citation-link"
      ref={tip.anchor}
      onMouseEnter={tip.show}
      onMouseLeave={tip.hideSoon}
      onFocus={tip.show}
      onBlur={tip.hide}
    >
      {opens ? (
        <SourceLink
          source={source}
          passage={citation.snippet}
          credentials={props.credentials}
          onError={props.onError}
          className={className}
          aria-label={label}
          aria-describedby={tipId}
        >
          {props.children}
        </SourceLink>
      ) : (
        // Inline text has nothing to open; it still takes focus, to show its passage.
        <span className={className} tabIndex={0} aria-label={label} aria-describedby={tipId}>
          {props.children}
        </span>
      )}
      <PassageTip id={tipId} citation={citation} tip={tip} />
    </span>
  );
}

function PassageTip(props: { id: string; citation: Citation; tip: Tooltip }) {
  const { citation, tip } = props;
  const title = citation.title || citation.source;
  const snippet =
    citation.snippet.length > SNIPPET_CHARS
      ? `${citation.snippet.slice(0, SNIPPET_CHARS).trimEnd()}…`
      : citation.snippet;
  return (
    // Hidden until shown, and still the link's description for screen readers.
    <span
      role="tooltip"
      id={props.id}
      ref={tip.box}
      className="passage-tip"
      hidden={!tip.open}
      style={tip.place ? { left: tip.place.left, top: tip.place.top } : undefined}
    >
      <span className="passage-tip-head">
        <strong>{title}</strong>
        {title !== citation.source && <span className="passage-tip-source">{citation.source}</span>}
        {citation.location && <span className="passage-tip-location">{citation.location}</span>}
      </span>
      <span className="passage-tip-snippet">{snippet}</span>
    </span>
  );
}

type Tooltip = ReturnType<typeof useTooltip>;

/** Open on hover or focus; placed (fixed, so no scrolling frame clips it) under its anchor,
 *  or above it when there is no room below; hidden on Escape or when the page scrolls. */
function useTooltip() {
  const anchor = useRef<HTMLSpanElement>(null);
  const box = useRef<HTMLSpanElement>(null);
  const timer = useRef<number | undefined>(undefined);
  const [open, setOpen] = useState(false);
  const [place, setPlace] = useState<Place | null>(null);

  const show = () => {
    window.clearTimeout(timer.current);
    setOpen(true);
  };
  const hide = () => {
    window.clearTimeout(timer.current);
    setOpen(false);
    setPlace(null);
  };
  const hideSoon = () => {
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(hide, HIDE_DELAY_MS);
  };

  useLayoutEffect(() => {
    if (!open || !anchor.current || !box.current) return;
    setPlace(placeUnder(anchor.current, box.current));
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && hide();
    const onScroll = (event: Event) => {
      if (!(event.target instanceof Node && box.current?.contains(event.target))) hide();
    };
    document.addEventListener("keydown", onKey);
    window.addEventListener("scroll", onScroll, true);
    return () => {
      document.removeEventListener("keydown", onKey);
      window.removeEventListener("scroll", onScroll, true);
    };
  }, [open]);

  useEffect(() => () => window.clearTimeout(timer.current), []);

  return { anchor, box, open, place, show, hide, hideSoon };
}

function placeUnder(anchor: HTMLElement, box: HTMLElement): Place {
  const link = (anchor.firstElementChild ?? anchor).getBoundingClientRect();
  const { width, height } = box.getBoundingClientRect();
  const left = Math.max(MARGIN, Math.min(link.left, window.innerWidth - width - MARGIN));
  const below = link.bottom + 4;
  const fits = below + height + MARGIN <= window.innerHeight;
  return { left, top: fits ? below : Math.max(MARGIN, link.top - height - 4) };
}
