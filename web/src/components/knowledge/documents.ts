// Where the ingestion of a knowledge base stands, from its documents and sources.
import type { DocumentState, DocumentsList, KnowledgeDocument, KnowledgeSource } from "./types";

export const STATE_LABELS: Record<DocumentState, string> = {
  queued: "Queued",
  fetching: "Fetching",
  converting: "Converting",
  embedding: "Embedding",
  ready: "Ready",
  failed: "Failed",
};

const SETTLED: ReadonlySet<DocumentState> = new Set(["ready", "failed"]);

export function inProgress(state: DocumentState): boolean {
  return !SETTLED.has(state);
}

export interface DocumentCounts {
  total: number;
  ready: number;
  failed: number;
  /** Something is being indexed: a source the server has still to finish (a crawl adds
   *  documents as it goes), a document in progress, or a refresh under way. */
  busy: boolean;
}

/** The documents of the version queries read (a refresh builds the next one beside it). */
export function countDocuments(list: DocumentsList): DocumentCounts {
  const live = list.data.filter((document) => document.version === list.version);
  return {
    total: live.length,
    ready: live.filter((document) => document.state === "ready").length,
    failed: live.filter((document) => document.state === "failed").length,
    busy:
      list.pending > 0 ||
      list.building_version != null ||
      list.data.some((document) => inProgress(document.state)),
  };
}

/** A row of the documents table: a document, or a source whose ingestion has not started
 *  (the server lists a document only once a worker picks its source up). */
export type DocumentRow =
  | {
      kind: "document";
      document: KnowledgeDocument;
      source: KnowledgeSource | undefined;
      /** Of the version a refresh is building. */
      next: boolean;
    }
  | { kind: "waiting"; source: KnowledgeSource };

export function documentRows(list: DocumentsList, sources: KnowledgeSource[]): DocumentRow[] {
  const byId = new Map(sources.map((source) => [source.id, source]));
  const started = new Set(list.data.map((document) => document.source_id));
  const rows: DocumentRow[] = list.data.map((document) => ({
    kind: "document",
    document,
    source: byId.get(document.source_id),
    next: document.version !== list.version,
  }));
  for (const source of sources) {
    if (!started.has(source.id)) rows.push({ kind: "waiting", source });
  }
  return rows;
}

/** Whether the page should keep asking: anything queued or in progress, or a refresh. */
export function ingesting(list: DocumentsList, sources: KnowledgeSource[]): boolean {
  const waiting = documentRows(list, sources).some((row) => row.kind === "waiting");
  return waiting || countDocuments(list).busy;
}
