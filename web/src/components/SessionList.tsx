import type { Session } from "../api/client";
import { SessionItem } from "./SessionItem";

interface Props {
  sessions: Session[];
  currentId: string | null;
  hasMore: boolean;
  onOpen: (id: string | null) => void;
  onRename: (id: string, title: string) => Promise<boolean>;
  onDelete: (id: string) => Promise<void>;
  onLoadMore: () => void;
  /** The search box's text, and the search applied to `sessions` (once typing paused). */
  search: string;
  query: string;
  onSearch: (text: string) => void;
  onClearSearch: () => void;
}

export function SessionList(props: Props) {
  const searchId = "chat-search"; // Ctrl+K comes here (useShortcuts)
  return (
    <nav className="sessions" aria-label="Chats">
      <button type="button" className="new-chat" onClick={() => props.onOpen(null)}>
        New chat
      </button>
      <div className="session-search">
        <label htmlFor={searchId} className="visually-hidden">
          Search chats
        </label>
        <input
          id={searchId}
          type="search"
          placeholder="Search chats"
          value={props.search}
          onChange={(event) => props.onSearch(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Escape" && props.search) {
              event.preventDefault();
              props.onClearSearch();
            }
          }}
        />
      </div>
      {props.sessions.length === 0 ? (
        <p className="hint" role="status">
          {props.query ? "No chats match" : "No chats yet."}
        </p>
      ) : (
        <ul>
          {props.sessions.map((session) => (
            <SessionItem
              key={session.id}
              session={session}
              current={session.id === props.currentId}
              onOpen={() => props.onOpen(session.id)}
              onRename={(title) => props.onRename(session.id, title)}
              onDelete={() => props.onDelete(session.id)}
            />
          ))}
        </ul>
      )}
      {props.hasMore && (
        <button type="button" className="quiet" onClick={props.onLoadMore}>
          Show older chats
        </button>
      )}
    </nav>
  );
}
