// The shapes the Knowledge pages show, from the generated API types.
import type { components } from "../../api/schema";

export type KnowledgeBase = components["schemas"]["KnowledgeOut"];
export type KnowledgeSource = components["schemas"]["SourceOut"];
export type KnowledgeDocument = components["schemas"]["DocumentOut"];
export type DocumentsList = components["schemas"]["DocumentsOut"];
export type Hit = components["schemas"]["HitOut"];
export type Grant = components["schemas"]["GrantOut"];
export type SubjectType = components["schemas"]["SubjectType"];
export type GrantPermission = components["schemas"]["GrantPermission"];
export type DocumentState = KnowledgeDocument["state"];

/** What a knowledge base page shows, fetched together and refreshed while something is
 *  being ingested. */
export interface KnowledgeBaseData {
  kb: KnowledgeBase;
  documents: DocumentsList;
  sources: KnowledgeSource[];
}
