// A fenced code block in an answer (highlighted by rehype-highlight) with a Copy button.
import { useEffect, useRef, useState, type ComponentProps } from "react";

const COPIED_MS = 2000;

type CopyState = "idle" | "copied" | "failed";
const LABEL: Record<CopyState, string> = { idle: "Copy", copied: "Copied", failed: "Copy failed" };

export function CodeBlock({ node: _node, ...props }: ComponentProps<"pre"> & { node?: unknown }) {
  const pre = useRef<HTMLPreElement>(null);
  const [state, setState] = useState<CopyState>("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), COPIED_MS);
    return () => window.clearTimeout(timer);
  }, [state]);

  const copy = async () => {
    const code = (pre.current?.textContent ?? "").replace(/\n$/, ""); // the fence's last newline
    setState((await copyText(code)) ? "copied" : "failed");
  };
  return (
    <div className="md-code">
      <button type="button" className="md-code-copy" onClick={() => void copy()} aria-live="polite">
        {LABEL[state]}
      </button>
      <pre ref={pre} {...props} />
    </div>
  );
}

/** The clipboard API where the page is a secure context (https, localhost); a plain-http
 *  Homeport on a LAN has none, so there the old `execCommand("copy")`. */
async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // refused (no permission, page not focused): try the old way
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  try {
    return document.execCommand("copy");
  } finally {
    area.remove();
  }
}
