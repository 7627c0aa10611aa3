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
}

export function SessionList(props: Props) {
  return (
    <nav className="sessions" aria-label="Chats">
      <button type="button" className="new-chat" onClick={() => props.onOpen(null)}>
        New chat
      </button>
      {props.sessions.length === 0 ? (
        <p className="hint">No chats yet.</p>
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
