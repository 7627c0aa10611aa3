import { useState, type FormEvent, type MouseEvent } from "react";
import type { Session } from "../api/client";
import { chatPath } from "../router";

interface Props {
  session: Session;
  current: boolean;
  onOpen: () => void;
  onRename: (title: string) => Promise<boolean>;
  onDelete: () => Promise<void>;
}

type Mode = "show" | "rename" | "delete";

/** One chat in the list: a link to it, and Rename / Delete done in place. */
export function SessionItem({ session, current, onOpen, onRename, onDelete }: Props) {
  const [mode, setMode] = useState<Mode>("show");
  const [title, setTitle] = useState(session.title);
  const inputId = `title-${session.id}`;

  function open(event: MouseEvent) {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    onOpen();
  }

  async function rename(event: FormEvent) {
    event.preventDefault();
    if (!title.trim() || (await onRename(title.trim()))) setMode("show");
  }

  if (mode === "rename") {
    return (
      <li className="session editing">
        <form onSubmit={rename}>
          <label htmlFor={inputId}>Title</label>
          <input
            id={inputId}
            value={title}
            maxLength={200}
            autoFocus
            onChange={(event) => setTitle(event.target.value)}
            onKeyDown={(event) => event.key === "Escape" && setMode("show")}
          />
          <div className="actions">
            <button type="submit">Save</button>
            <button type="button" className="quiet" onClick={() => setMode("show")}>
              Cancel
            </button>
          </div>
        </form>
      </li>
    );
  }

  return (
    <li className={current ? "session current" : "session"}>
      <a href={chatPath(session.id)} onClick={open} aria-current={current ? "page" : undefined}>
        {session.title}
      </a>
      {mode === "delete" ? (
        <div className="actions confirm" role="group" aria-label={`Delete “${session.title}”?`}>
          <span>Delete?</span>
          <button type="button" className="danger" onClick={() => void onDelete()}>
            Delete
          </button>
          <button type="button" className="quiet" onClick={() => setMode("show")}>
            Keep
          </button>
        </div>
      ) : (
        <div className="actions">
          <button
            type="button"
            className="quiet"
            aria-label={`Rename “${session.title}”`}
            onClick={() => {
              setTitle(session.title);
              setMode("rename");
            }}
          >
            Rename
          </button>
          <button
            type="button"
            className="quiet"
            aria-label={`Delete “${session.title}”`}
            onClick={() => setMode("delete")}
          >
            Delete
          </button>
        </div>
      )}
    </li>
  );
}
