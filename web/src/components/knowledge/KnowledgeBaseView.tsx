import { useCallback, useEffect, useRef, type MouseEvent, type ReactNode } from "react";
import { call, messageOf, type ApiClient, type User } from "../../api/client";
import type { Credentials } from "../../auth";
import { knowledgePath } from "../../router";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";
import { AddSources } from "./AddSources";
import { DocumentsTable } from "./DocumentsTable";
import { ingesting } from "./documents";
import { QueryBox } from "./QueryBox";
import { SharingPanel, useGrants } from "./SharingPanel";
import type { KnowledgeBaseData, KnowledgeSource } from "./types";

const REFRESH_MS = 1500;

interface Props {
  kbId: string;
  client: ApiClient;
  credentials: Credentials;
  user: User;
  onUnauthorized: (message: string) => void;
  onLeave: () => void;
}

/** One knowledge base: add documents (files, URLs, text), follow their ingestion, try a
 *  question, refresh or delete it, and share it. */
export function KnowledgeBaseView(props: Props) {
  const { kbId, client, credentials, user, onUnauthorized } = props;
  const path = { kb: kbId };
  const fetchAll = useCallback(async (): Promise<KnowledgeBaseData> => {
    const params = { path: { kb: kbId } };
    const [kb, documents, sources] = await Promise.all([
      call(client.GET("/api/v1/knowledge/{kb}", { params })),
      call(client.GET("/api/v1/knowledge/{kb}/documents", { params })),
      call(client.GET("/api/v1/knowledge/{kb}/sources", { params })),
    ]);
    return { kb, documents, sources };
  }, [client, kbId]);
  const { data, error, setError, notice, setNotice, act, load } = useAdminList(fetchAll, {
    refreshMs: REFRESH_MS,
    refreshWhile: (shown) => shown !== null && ingesting(shown.documents, shown.sources),
    onUnauthorized,
  });
  const sharing = useGrants(client, kbId);
  // Arriving from a link (or after creating the base), focus moves to its name.
  const heading = useRef<HTMLHeadingElement>(null);
  const loaded = data !== null;
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [loaded]);

  if (data === null) {
    return (
      <section className="knowledge" aria-labelledby="kb-title">
        <BackLink onLeave={props.onLeave} />
        <h1 id="kb-title">Knowledge base</h1>
        {error ? (
          <ErrorMessage>{error}</ErrorMessage>
        ) : (
          <p aria-busy="true">Loading the knowledge base…</p>
        )}
      </section>
    );
  }

  const { kb } = data;
  const mayDelete = kb.owner_id === user.id || user.roles.includes("admin");
  // Those who may change a base's sharing may also add and remove its documents.
  const canEdit = mayDelete || sharing.grants !== null;

  function refresh() {
    const question =
      `Refresh “${kb.name}”? Every source is fetched and indexed again; ` +
      "questions are answered from the current documents until the new ones are ready.";
    if (!window.confirm(question)) return;
    void act(
      () => call(client.POST("/api/v1/knowledge/{kb}/refresh", { params: { path } })),
      `Refreshing ${kb.name}.`,
    );
  }

  function remove() {
    const question = `Delete the knowledge base “${kb.name}” and all its documents?`;
    if (!window.confirm(question)) return;
    setError(null);
    call(client.DELETE("/api/v1/knowledge/{kb}", { params: { path } }))
      .then(props.onLeave)
      .catch((failure: unknown) => setError(messageOf(failure)));
  }

  function removeSource(source: KnowledgeSource) {
    const question =
      source.kind === "url"
        ? `Remove ${source.uri} and every page found from it?`
        : `Remove ${source.uri}?`;
    if (!window.confirm(question)) return;
    const sourcePath = { kb: kbId, source_id: source.id };
    void act(
      () =>
        call(
          client.DELETE("/api/v1/knowledge/{kb}/sources/{source_id}", {
            params: { path: sourcePath },
          }),
        ),
      `Removed ${source.uri}.`,
    );
  }

  function added(what: string) {
    setNotice(what);
    void load();
  }

  return (
    <section className="knowledge" aria-labelledby="kb-title">
      <BackLink onLeave={props.onLeave} />
      <header className="kb-header">
        <div>
          <h1 id="kb-title" ref={heading} tabIndex={-1}>
            {kb.name}
          </h1>
          {kb.description && <p className="kb-description">{kb.description}</p>}
          <p className="hint">
            {kb.owner_id === user.id ? "Yours" : "Shared with you"} · embedding model{" "}
            <code>{kb.embedding_model}</code> · version {kb.version}
            {kb.building_version != null && ` (building version ${kb.building_version})`}
          </p>
        </div>
        {canEdit && (
          <div className="kb-actions">
            <button type="button" className="secondary" onClick={refresh}>
              Refresh
            </button>
            {mayDelete && (
              <button type="button" className="danger" onClick={remove}>
                Delete
              </button>
            )}
          </div>
        )}
      </header>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      {canEdit && (
        <Part id="kb-add" title="Add documents">
          <AddSources
            kbId={kbId}
            client={client}
            credentials={credentials}
            onAdded={added}
            onUnauthorized={onUnauthorized}
          />
        </Part>
      )}
      <Part id="kb-documents" title="Documents">
        <DocumentsTable
          documents={data.documents}
          sources={data.sources}
          kbId={kbId}
          credentials={credentials}
          onRemove={canEdit ? removeSource : undefined}
          onError={setError}
        />
      </Part>
      <Part id="kb-query" title="Try a question">
        <QueryBox
          kbId={kbId}
          client={client}
          credentials={credentials}
          sourceOf={(documentId) => sourceOf(data, documentId)}
        />
      </Part>
      {sharing.grants !== null && (
        <Part id="kb-sharing" title="Sharing">
          <SharingPanel sharing={sharing} />
        </Part>
      )}
    </section>
  );
}

function sourceOf(data: KnowledgeBaseData, documentId: string): KnowledgeSource | undefined {
  const document = data.documents.data.find((d) => d.id === documentId);
  return document && data.sources.find((source) => source.id === document.source_id);
}

function BackLink({ onLeave }: { onLeave: () => void }) {
  function follow(event: MouseEvent<HTMLAnchorElement>) {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    onLeave();
  }
  return (
    <a className="back-link" href={knowledgePath(null)} onClick={follow}>
      ← All knowledge bases
    </a>
  );
}

function Part(props: { id: string; title: string; children: ReactNode }) {
  return (
    <section className="kb-part" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  );
}
