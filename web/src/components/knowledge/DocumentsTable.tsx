import type { Credentials } from "../../auth";
import { SourceLink } from "./Citation";
import { STATE_LABELS, documentRows, inProgress, type DocumentRow } from "./documents";
import type { DocumentsList, KnowledgeDocument, KnowledgeSource } from "./types";

interface Props {
  documents: DocumentsList;
  sources: KnowledgeSource[];
  kbId: string;
  credentials: Credentials;
  /** Given to those who may change the base. */
  onRemove?: (source: KnowledgeSource) => void;
  onError: (message: string) => void;
}

/** Every document with where its ingestion stands: a progress bar while it is fetched,
 *  converted and embedded, the reason when it failed. A crawled site is one source with
 *  many documents; Remove takes the whole source away. */
export function DocumentsTable(props: Props) {
  const rows = documentRows(props.documents, props.sources);
  if (rows.length === 0) return <p className="hint">No documents yet.</p>;
  const { building_version: building, pending } = props.documents;
  const firstOfSource = new Set<string>();
  return (
    <>
      {pending > 0 && (
        <p className="hint">
          Indexing {pending === 1 ? "1 source" : `${pending} sources`}; more documents may
          appear.
        </p>
      )}
      {building != null && (
        <p className="hint">
          Refreshing: version {building} is being built; questions are answered from version{" "}
          {props.documents.version} until it is ready.
        </p>
      )}
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Documents table">
        <table className="documents">
          <caption className="visually-hidden">Documents</caption>
          <thead>
            <tr>
              <th scope="col">Document</th>
              <th scope="col">State</th>
              <th scope="col" className="number">
                Chunks
              </th>
              {props.onRemove && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const source = row.source;
              const first = source !== undefined && !firstOfSource.has(source.id);
              if (source) firstOfSource.add(source.id);
              return (
                <tr key={row.kind === "document" ? row.document.id : `source-${row.source.id}`}>
                  <th scope="row" className="document-name">
                    <DocumentName
                      row={row}
                      kbId={props.kbId}
                      credentials={props.credentials}
                      onError={props.onError}
                    />
                  </th>
                  <td className="document-state">
                    {row.kind === "document" ? (
                      <DocumentState document={row.document} />
                    ) : (
                      <Waiting name={row.source.uri} />
                    )}
                  </td>
                  <td className="number">
                    {row.kind === "document" && row.document.state === "ready"
                      ? row.document.chunks
                      : "—"}
                  </td>
                  {props.onRemove && (
                    <td className="row-actions">
                      {first && source && (
                        <button
                          type="button"
                          className="danger"
                          aria-label={`Remove ${source.uri}`}
                          onClick={() => props.onRemove?.(source)}
                        >
                          Remove
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

function DocumentName(props: {
  row: DocumentRow;
  kbId: string;
  credentials: Credentials;
  onError: (message: string) => void;
}) {
  const { row } = props;
  if (row.kind === "waiting") return <span>{row.source.uri}</span>;
  const { document, source } = row;
  const title = document.title && document.title !== document.uri ? document.title : null;
  return (
    <>
      {document.state === "ready" ? (
        <SourceLink
          source={{
            source: document.uri,
            kbId: props.kbId,
            documentId: document.id,
            kind: source?.kind,
          }}
          credentials={props.credentials}
          onError={props.onError}
        />
      ) : (
        <span>{document.uri}</span>
      )}
      {title && <div className="hint">{title}</div>}
      {row.next && <div className="hint">new version</div>}
    </>
  );
}

function DocumentState({ document }: { document: KnowledgeDocument }) {
  const label = STATE_LABELS[document.state];
  if (document.state === "failed") {
    return (
      <>
        <span className="badge failed">{label}</span>
        {document.error && <div className="document-error">{document.error}</div>}
      </>
    );
  }
  if (!inProgress(document.state)) return <span className="badge ready">{label}</span>;
  // Progress is counted while embedding; fetching and converting have no measure.
  const measured = document.state === "embedding";
  const percent = Math.round(document.progress * 100);
  return (
    <div className="document-progress">
      <span className="badge loading">
        {label}
        {measured && ` ${percent}%`}
      </span>
      <progress
        max={1}
        value={measured ? document.progress : undefined}
        aria-label={`${label} ${document.uri}`}
        aria-valuetext={measured ? `${percent}%` : undefined}
      />
    </div>
  );
}

function Waiting({ name }: { name: string }) {
  return (
    <div className="document-progress">
      <span className="badge loading">{STATE_LABELS.queued}</span>
      <progress aria-label={`Waiting to index ${name}`} />
    </div>
  );
}
