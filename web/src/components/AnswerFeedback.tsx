import { useId, useState, type FormEvent } from "react";
import type { AppInfo, MessageFeedback, Rating } from "../api/client";
import { Icon } from "./Icon";

interface Props {
  feedback: MessageFeedback | null;
  /** The app that answered, if one did: its builders see the rating. */
  app: AppInfo | null;
  onSave: (rating: Rating, comment: string | null) => Promise<boolean>;
  onRemove: () => Promise<boolean>;
}

const COMMENT_MAX = 2000;
// Feather's thumbs-up and thumbs-down icons (MIT), drawn like the composer's paperclip.
const THUMB: Record<Rating, string> = {
  up:
    "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3z" +
    "M7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3",
  down:
    "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3z" +
    "M17 2h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17",
};

/** Thumbs up and down under an answer: either opens a small box for an optional comment,
 *  saved with the rating; the rating given shows pressed. */
export function AnswerFeedback({ feedback, app, onSave, onRemove }: Props) {
  const [editing, setEditing] = useState<Rating | null>(null);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const commentId = useId();
  const who = app
    ? `the builders of ${app.display_name || app.name}, to improve it`
    : "the platform's admins, for evaluations";
  const note = `Your rating, comment and this conversation are shared with ${who}.`;

  function open(rating: Rating) {
    setEditing(rating);
    setComment(feedback?.rating === rating ? (feedback.comment ?? "") : "");
  }

  async function run(work: () => Promise<boolean>) {
    setBusy(true);
    try {
      if (await work()) setEditing(null);
    } finally {
      setBusy(false);
    }
  }

  function save(event: FormEvent) {
    event.preventDefault();
    if (editing) void run(() => onSave(editing, comment.trim() || null));
  }

  return (
    <div className="feedback">
      <div className="feedback-buttons" role="group" aria-label="Rate this answer">
        <RatingButton rating="up" label="Good answer" {...{ feedback, editing, note, open }} />
        <RatingButton rating="down" label="Bad answer" {...{ feedback, editing, note, open }} />
      </div>
      {editing && (
        <form className="feedback-form" onSubmit={save}>
          <label htmlFor={commentId}>Comment (optional)</label>
          <textarea
            id={commentId}
            value={comment}
            placeholder={editing === "up" ? "What was good?" : "What was wrong?"}
            rows={2}
            maxLength={COMMENT_MAX}
            autoFocus
            onChange={(event) => setComment(event.target.value)}
            onKeyDown={(event) => event.key === "Escape" && setEditing(null)}
          />
          <p className="hint">{note}</p>
          <div className="actions">
            <button type="submit" disabled={busy}>
              Save
            </button>
            <button type="button" className="quiet" onClick={() => setEditing(null)}>
              Cancel
            </button>
            {feedback && (
              <button
                type="button"
                className="quiet"
                disabled={busy}
                onClick={() => void run(onRemove)}
              >
                Remove rating
              </button>
            )}
          </div>
        </form>
      )}
    </div>
  );
}

interface ButtonProps {
  rating: Rating;
  label: string;
  feedback: MessageFeedback | null;
  editing: Rating | null;
  note: string;
  open: (rating: Rating) => void;
}

function RatingButton({ rating, label, feedback, editing, note, open }: ButtonProps) {
  const pressed = feedback?.rating === rating;
  return (
    <button
      type="button"
      className={editing === rating ? "quiet choosing" : "quiet"}
      aria-label={label}
      aria-pressed={pressed}
      title={`${label}. ${note}`}
      onClick={() => open(rating)}
    >
      <Icon path={THUMB[rating]} />
    </button>
  );
}
