import { useState, type FormEvent } from "react";
import { ApiError, call, messageOf, type ApiClient } from "../../api/client";
import type { Credentials } from "../../auth";
import { ErrorMessage } from "../ErrorMessage";
import { FileDrop } from "./FileDrop";

interface Props {
  kbId: string;
  client: ApiClient;
  credentials: Credentials;
  /** Something was accepted (the server indexes it in the background). */
  onAdded: (what: string) => void;
  onUnauthorized: (message: string) => void;
}

/** The three ways to add documents: files (dropped or picked), a URL (optionally crawled),
 *  and text typed or pasted in. */
export function AddSources(props: Props) {
  return (
    <div className="add-sources">
      <FileDrop
        kbId={props.kbId}
        credentials={props.credentials}
        onUploaded={props.onAdded}
        onUnauthorized={props.onUnauthorized}
      />
      <div className="add-forms">
        <AddUrl {...props} />
        <AddText {...props} />
      </div>
    </div>
  );
}

/** Run a request for a form: its error is the form's own; a 401 signs out. */
async function submitting(
  request: () => Promise<unknown>,
  setError: (message: string | null) => void,
  onUnauthorized: (message: string) => void,
): Promise<boolean> {
  setError(null);
  try {
    await request();
    return true;
  } catch (failure) {
    if (failure instanceof ApiError && failure.unauthorized) onUnauthorized(failure.message);
    else setError(messageOf(failure));
    return false;
  }
}

const CRAWL_DEFAULTS = { depth: 0, max_pages: 50, same_site: true, respect_robots: true };

function AddUrl({ kbId, client, onAdded, onUnauthorized }: Props) {
  const [url, setUrl] = useState("");
  const [depth, setDepth] = useState(0);
  const [maxPages, setMaxPages] = useState(50);
  const [sameSite, setSameSite] = useState(true);
  const [robots, setRobots] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!url.trim()) return;
    setBusy(true);
    const body = {
      url: url.trim(),
      depth,
      max_pages: maxPages,
      same_site: sameSite,
      respect_robots: robots,
    };
    const path = { kb: kbId };
    const done = await submitting(
      () => call(client.POST("/api/v1/knowledge/{kb}/sources", { params: { path }, body })),
      setError,
      onUnauthorized,
    );
    setBusy(false);
    if (!done) return;
    onAdded(depth > 0 ? `Crawling ${body.url}.` : `Fetching ${body.url}.`);
    setUrl("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="kb-add-url-title">
      <h3 id="kb-add-url-title">Add a web page</h3>
      <div className="fields">
        <div className="wide">
          <label htmlFor="kb-url">URL</label>
          <input
            id="kb-url"
            type="url"
            required
            maxLength={2048}
            placeholder="https://example.com/docs/"
            value={url}
            onChange={(event) => setUrl(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="kb-depth">Links to follow (depth)</label>
          <input
            id="kb-depth"
            type="number"
            min={0}
            max={10}
            value={depth}
            aria-describedby="kb-depth-hint"
            onChange={(event) => setDepth(clamp(event.target.valueAsNumber, 0, 10, 0))}
          />
          <span id="kb-depth-hint" className="hint">
            0: this page only
          </span>
        </div>
        <div>
          <label htmlFor="kb-max-pages">At most, pages</label>
          <input
            id="kb-max-pages"
            type="number"
            min={1}
            max={10000}
            disabled={depth === 0}
            value={maxPages}
            onChange={(event) => setMaxPages(clamp(event.target.valueAsNumber, 1, 10000, 50))}
          />
        </div>
      </div>
      {depth > 0 && (
        <div className="checks">
          <label>
            <input
              type="checkbox"
              checked={sameSite}
              onChange={(event) => setSameSite(event.target.checked)}
            />{" "}
            Stay on this site
          </label>
          <label>
            <input
              type="checkbox"
              checked={robots}
              onChange={(event) => setRobots(event.target.checked)}
            />{" "}
            Obey robots.txt
          </label>
        </div>
      )}
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      <button type="submit" disabled={busy || !url.trim()}>
        {busy ? "Adding…" : depth > 0 ? "Crawl" : "Add page"}
      </button>
    </form>
  );
}

function clamp(value: number, low: number, high: number, fallback: number): number {
  if (Number.isNaN(value)) return fallback;
  return Math.min(high, Math.max(low, Math.round(value)));
}

function AddText({ kbId, client, onAdded, onUnauthorized }: Props) {
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    // The generated type makes fields with defaults required; the crawl ones mean nothing here.
    const body = { text, title: title.trim() || null, ...CRAWL_DEFAULTS };
    const path = { kb: kbId };
    const done = await submitting(
      () => call(client.POST("/api/v1/knowledge/{kb}/sources", { params: { path }, body })),
      setError,
      onUnauthorized,
    );
    setBusy(false);
    if (!done) return;
    onAdded(`Added “${body.title ?? "the text"}”.`);
    setTitle("");
    setText("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="kb-add-text-title">
      <h3 id="kb-add-text-title">Add text</h3>
      <div className="fields">
        <div className="wide">
          <label htmlFor="kb-text-title">Title (optional)</label>
          <input
            id="kb-text-title"
            maxLength={300}
            autoComplete="off"
            value={title}
            onChange={(event) => setTitle(event.target.value)}
          />
        </div>
        <div className="wide">
          <label htmlFor="kb-text">Text (Markdown is fine)</label>
          <textarea
            id="kb-text"
            rows={4}
            required
            value={text}
            onChange={(event) => setText(event.target.value)}
          />
        </div>
      </div>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      <button type="submit" disabled={busy || !text.trim()}>
        {busy ? "Adding…" : "Add text"}
      </button>
    </form>
  );
}
