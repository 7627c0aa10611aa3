import type { KnowledgeBase } from "./knowledge/types";

/** The chat's knowledge bases as small chips, each with a button that stops using it. */
export function KnowledgeChips(props: {
  bases: KnowledgeBase[] | null;
  chosen: string[];
  onRemove: (id: string) => void;
  disabled?: boolean;
}) {
  if (props.chosen.length === 0) return null;
  const nameOf = (id: string) => props.bases?.find((kb) => kb.id === id)?.name ?? id;
  return (
    <ul className="chips" aria-label="Knowledge used in this chat">
      {props.chosen.map((id) => (
        <li key={id} className="chip">
          {nameOf(id)}
          <button
            type="button"
            className="quiet chip-remove"
            aria-label={`Stop using ${nameOf(id)}`}
            title={`Stop using ${nameOf(id)}`}
            disabled={props.disabled}
            onClick={() => props.onRemove(id)}
          >
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
