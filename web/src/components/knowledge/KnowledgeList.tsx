import { useCallback, useState, type FormEvent, type MouseEvent } from "react";
import { call, type ApiClient, type User } from "../../api/client";
import { knowledgePath } from "../../router";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";
import { countDocuments, type DocumentCounts } from "./documents";
import type { KnowledgeBase } from "./types";

interface Listed {
  kb: KnowledgeBase;
  counts: DocumentCounts | null;
}

const REFRESH_MS = 2000;

/** The knowledge bases one owns or that are shared with one, with how many documents each
 *  has (and how many are ready); a form to create one. */
export function KnowledgeList(props: {
  client: ApiClient;
  user: User;
  onUnauthorized: (message: string) => void;
  onOpen: (kbId: string) => void;
}) {
  const { client, user, onOpen } = props;
  const fetchList = useCallback(async (): Promise<Listed[]> => {
    const bases = await call(client.GET("/api/v1/knowledge"));
    // The list has no counts: each base's documents are asked for (one request each).
    return Promise.all(
      bases.map(async (kb) => {
        const path = { kb: kb.id };
        try {
          const documents = await call(
            client.GET("/api/v1/knowledge/{kb}/documents", { params: { path } }),
          );
          return { kb, counts: countDocuments(documents) };
        } catch {
          return { kb, counts: null };
        }
      }),
    );
  }, [client]);
  const { data, error, setError, act } = useAdminList(fetchList, {
    refreshMs: REFRESH_MS,
    refreshWhile: (listed) => (listed ?? []).some((item) => item.counts?.busy),
    onUnauthorized: props.onUnauthorized,
  });

  function create(name: string, description: string) {
    return act(async () => {
      const kb = await call(client.POST("/api/v1/knowledge", { body: { name, description } }));
      onOpen(kb.id);
    }, `Created ${name}.`);
  }

  function follow(event: MouseEvent<HTMLAnchorElement>, kbId: string) {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    onOpen(kbId);
  }

  return (
    <section className="knowledge" aria-labelledby="knowledge-title">
      <h1 id="knowledge-title">Knowledge</h1>
      <p className="hint">
        Knowledge bases hold documents (files, web pages, text) that questions and chats can be
        answered from.
      </p>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {data === null ? (
        <p aria-busy="true">Loading knowledge bases…</p>
      ) : data.length === 0 ? (
        <p className="hint">No knowledge bases yet: create the first one below.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Knowledge bases table">
          <table>
            <caption className="visually-hidden">Knowledge bases</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Documents</th>
                <th scope="col">Owner</th>
              </tr>
            </thead>
            <tbody>
              {data.map(({ kb, counts }) => (
                <tr key={kb.id}>
                  <th scope="row">
                    <a href={knowledgePath(kb.id)} onClick={(event) => follow(event, kb.id)}>
                      {kb.name}
                    </a>
                  </th>
                  <td className="kb-description">
                    {kb.description || <span className="hint">—</span>}
                  </td>
                  <td>{counts ? <CountsText counts={counts} /> : "—"}</td>
                  <td>{kb.owner_id === user.id ? "You" : "Shared with you"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateKnowledgeBase onCreate={create} />
    </section>
  );
}

function CountsText({ counts }: { counts: DocumentCounts }) {
  if (counts.total === 0) return <span className="hint">None</span>;
  return (
    <span>
      {counts.total} ({counts.ready} ready{counts.failed ? `, ${counts.failed} failed` : ""})
      {counts.busy && <span className="hint"> · indexing…</span>}
    </span>
  );
}

function CreateKnowledgeBase(props: {
  onCreate: (name: string, description: string) => Promise<boolean>;
}) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    const created = await props.onCreate(name.trim(), description.trim());
    setBusy(false);
    if (!created) return;
    setName("");
    setDescription("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="new-kb-title">
      <h2 id="new-kb-title">New knowledge base</h2>
      <div className="fields">
        <div>
          <label htmlFor="kb-name">Name</label>
          <input
            id="kb-name"
            required
            maxLength={100}
            autoComplete="off"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="wide">
          <label htmlFor="kb-description">Description (optional)</label>
          <textarea
            id="kb-description"
            rows={2}
            maxLength={4000}
            value={description}
            onChange={(event) => setDescription(event.target.value)}
          />
        </div>
      </div>
      <button type="submit" disabled={busy || !name.trim()}>
        {busy ? "Creating…" : "Create knowledge base"}
      </button>
    </form>
  );
}
