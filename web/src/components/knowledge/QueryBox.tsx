import { useState, type FormEvent } from "react";
import { call, messageOf, type ApiClient } from "../../api/client";
import type { Credentials } from "../../auth";
import { ErrorMessage } from "../ErrorMessage";
import { Citation } from "./Citation";
import type { Hit, KnowledgeSource } from "./types";

type Mode = "hybrid" | "dense" | "keyword";

const MODES: { value: Mode; label: string }[] = [
  { value: "hybrid", label: "Meaning and words" },
  { value: "dense", label: "Meaning only" },
  { value: "keyword", label: "Words only" },
];

interface Props {
  kbId: string;
  client: ApiClient;
  credentials: Credentials;
  /** A document's source, by document id: whether a hit comes from an uploaded file, a web
   *  page or typed-in text (hits name documents, not sources). */
  sourceOf: (documentId: string) => KnowledgeSource | undefined;
}

/** "Try a question": the passages a question finds, as a chat answer would be grounded on
 *  them, each with its source (a link), where in the document it is, and the text. */
export function QueryBox({ kbId, client, credentials, sourceOf }: Props) {
  const [question, setQuestion] = useState("");
  const [mode, setMode] = useState<Mode>("hybrid");
  const [topK, setTopK] = useState(5);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [answer, setAnswer] = useState<{ question: string; hits: Hit[] } | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const query = question.trim();
    if (!query) return;
    setBusy(true);
    setError(null);
    try {
      const body = { query, mode, top_k: topK };
      const path = { kb: kbId };
      const found = await call(
        client.POST("/api/v1/knowledge/{kb}/query", { params: { path }, body }),
      );
      setAnswer({ question: query, hits: found.data });
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="query-box">
      <form
        className="query-form"
        onSubmit={submit}
        role="search"
        aria-label="Search this knowledge base"
      >
        <div className="query-question">
          <label htmlFor="kb-question">Question</label>
          <input
            id="kb-question"
            type="search"
            required
            maxLength={10000}
            autoComplete="off"
            placeholder="What would you ask?"
            value={question}
            onChange={(event) => setQuestion(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="kb-mode">Match by</label>
          <select
            id="kb-mode"
            value={mode}
            onChange={(event) => setMode(event.target.value as Mode)}
          >
            {MODES.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="kb-top-k">Passages</label>
          <input
            id="kb-top-k"
            type="number"
            min={1}
            max={100}
            value={topK}
            onChange={(event) =>
              setTopK(Number.isNaN(event.target.valueAsNumber) ? 5 : event.target.valueAsNumber)
            }
          />
        </div>
        <button type="submit" disabled={busy || !question.trim()}>
          {busy ? "Searching…" : "Search"}
        </button>
      </form>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      <div aria-live="polite" aria-busy={busy}>
        {answer &&
          (answer.hits.length === 0 ? (
            <p className="hint">Nothing in this knowledge base matches “{answer.question}”.</p>
          ) : (
            <ol className="hits" aria-label={`Passages for “${answer.question}”`}>
              {answer.hits.map((hit) => (
                <li key={hit.chunk_id}>
                  <Citation
                    source={{
                      source: hit.source,
                      title: hit.title,
                      section: hit.section,
                      page: hit.page,
                      kbId: hit.knowledge_base,
                      documentId: hit.document_id,
                      kind: sourceOf(hit.document_id)?.kind,
                    }}
                    snippet={hit.snippet}
                    score={hit.score}
                    credentials={credentials}
                    onError={setError}
                  />
                </li>
              ))}
            </ol>
          ))}
      </div>
    </div>
  );
}
