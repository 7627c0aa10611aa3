import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import type { KnowledgeBase } from "./knowledge/types";

interface Props {
  /** The bases the user may read (null: not known yet). */
  bases: KnowledgeBase[] | null;
  /** Ids of the bases the chat is grounded in. */
  chosen: string[];
  /** Resolves true once saved (false: refused, the menu stays open). */
  onSave: (ids: string[]) => Promise<boolean>;
  /** The menu opens: a good time to ask for the list again. */
  onOpen: () => void;
  disabled?: boolean;
}

/** "Knowledge": a menu of the readable knowledge bases, with a checkbox each, that sets what
 *  the chat's answers are grounded in. */
export function KnowledgePicker({ bases, chosen, onSave, onOpen, disabled }: Props) {
  const panelId = useId();
  const frame = useRef<HTMLDivElement>(null);
  const toggle = useRef<HTMLButtonElement>(null);
  const [open, setOpen] = useState(false);
  const [checked, setChecked] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (!open) return;
    // A click elsewhere closes the menu (without saving), as a menu would.
    const away = (event: PointerEvent) => {
      if (event.target instanceof Node && !frame.current?.contains(event.target)) setOpen(false);
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [open]);

  function show() {
    setChecked(chosen);
    setOpen(true);
    onOpen();
  }

  function close() {
    setOpen(false);
    toggle.current?.focus();
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaving(true);
    try {
      if (await onSave(checked)) close();
    } finally {
      setSaving(false);
    }
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key !== "Escape") return;
    event.stopPropagation();
    close();
  }

  const flip = (id: string, on: boolean) =>
    setChecked((now) => (on ? [...now, id] : now.filter((other) => other !== id)));

  return (
    <div className="knowledge-picker" ref={frame} onKeyDown={open ? onKeyDown : undefined}>
      <button
        type="button"
        ref={toggle}
        className="secondary"
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        disabled={disabled}
        onClick={() => (open ? close() : show())}
      >
        Knowledge{chosen.length > 0 ? ` (${chosen.length})` : ""}
      </button>
      {open && (
        <form id={panelId} className="picker-panel" onSubmit={save}>
          <fieldset>
            <legend>Answer from these knowledge bases</legend>
            <Choices bases={bases} checked={checked} onFlip={flip} />
          </fieldset>
          <div className="picker-actions">
            <button type="submit" disabled={saving || bases === null}>
              {saving ? "Saving…" : "Save"}
            </button>
            <button type="button" className="quiet" onClick={close}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

function Choices(props: {
  bases: KnowledgeBase[] | null;
  checked: string[];
  onFlip: (id: string, on: boolean) => void;
}) {
  const first = useRef<HTMLInputElement>(null);
  const loaded = props.bases !== null;
  useEffect(() => first.current?.focus(), [loaded]); // the menu opened, or its list came
  if (props.bases === null) return <p className="hint">Loading knowledge bases…</p>;
  if (props.bases.length === 0) {
    return (
      <p className="hint">
        No knowledge bases yet: <a href="/knowledge">create one</a>.
      </p>
    );
  }
  return (
    <ul className="picker-choices">
      {props.bases.map((kb, at) => (
        <li key={kb.id}>
          <label>
            <input
              type="checkbox"
              ref={at === 0 ? first : undefined}
              checked={props.checked.includes(kb.id)}
              onChange={(event) => props.onFlip(kb.id, event.target.checked)}
            />
            {kb.name}
            {kb.access !== "owner" && <span className="hint"> (shared with you)</span>}
          </label>
        </li>
      ))}
    </ul>
  );
}
