import { useRef, useState, type DragEvent, type FormEvent, type KeyboardEvent } from "react";
import type { Attachment } from "../hooks/useAttachments";
import { Icon } from "./Icon";

interface Props {
  value: string;
  onChange: (text: string) => void;
  onSend: () => void;
  onStop: () => void;
  streaming: boolean;
  disabled?: boolean;
  /** Files attached to the message being written, uploading or uploaded. */
  attachments: Attachment[];
  onAttach: (files: File[]) => void;
}

/** The message box: Enter sends, Shift+Enter adds a line; Stop ends a streaming answer. Files
 *  are attached with the paperclip or dropped on the box; the message waits for their upload. */
export function Composer(props: Props) {
  const { value, onChange, onSend, onStop, streaming, disabled, attachments } = props;
  const uploading = attachments.some((a) => !a.done);
  const canSend = !streaming && !disabled && !uploading && value.trim() !== "";
  const [over, setOver] = useState(false);

  function submit(event: FormEvent) {
    event.preventDefault();
    if (canSend) onSend();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      if (canSend) onSend();
    }
  }

  function dragging(event: DragEvent<HTMLFormElement>) {
    if (!Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    setOver(true);
  }

  function left(event: DragEvent<HTMLFormElement>) {
    if (event.relatedTarget instanceof Node && event.currentTarget.contains(event.relatedTarget)) {
      return; // onto a child of the box: still over it
    }
    setOver(false);
  }

  function dropped(event: DragEvent<HTMLFormElement>) {
    if (!Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    setOver(false);
    props.onAttach(Array.from(event.dataTransfer.files));
  }

  return (
    <form
      className={over ? "composer over" : "composer"}
      aria-label="New message"
      onSubmit={submit}
      onDragEnter={dragging}
      onDragOver={dragging}
      onDragLeave={left}
      onDrop={dropped}
    >
      {attachments.length > 0 && <AttachmentChips attachments={attachments} />}
      <div className="composer-row">
        <AttachButton onAttach={props.onAttach} />
        <label htmlFor="message" className="visually-hidden">
          Message
        </label>
        <textarea
          id="message"
          rows={3}
          placeholder="Message (Enter to send, Shift+Enter for a new line; drop files to attach)"
          value={value}
          onChange={(event) => onChange(event.target.value)}
          onKeyDown={onKeyDown}
        />
        {streaming ? (
          <button type="button" className="stop" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button type="submit" disabled={!canSend}>
            Send
          </button>
        )}
      </div>
    </form>
  );
}

const PAPERCLIP =
  "M21.4 11.6l-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l8.5-8.5a3.7 3.7 0 0 1 5.2 5.2l-8.5 8.5" +
  "a1.8 1.8 0 0 1-2.6-2.6l7.8-7.8";

/** The paperclip: a button that opens the file picker (the input itself stays hidden). */
function AttachButton({ onAttach }: { onAttach: (files: File[]) => void }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <label htmlFor="attach-files" className="visually-hidden">
        Files to attach
      </label>
      <input
        id="attach-files"
        ref={input}
        type="file"
        multiple
        className="visually-hidden"
        tabIndex={-1}
        onChange={(event) => {
          const files = Array.from(event.target.files ?? []);
          event.target.value = "";
          onAttach(files);
        }}
      />
      <button
        type="button"
        className="secondary attach"
        aria-label="Attach files"
        title="Attach files (PDF, Word, PowerPoint, HTML, Markdown, text, CSV)"
        onClick={() => input.current?.click()}
      >
        <Icon path={PAPERCLIP} size={18} />
      </button>
    </>
  );
}

function AttachmentChips({ attachments }: { attachments: Attachment[] }) {
  return (
    <ul className="chips" aria-label="Attached to this message" aria-live="polite">
      {attachments.flatMap((item) =>
        item.names.map((name, at) => (
          <li key={`${item.id}-${at}`} className={item.done ? "chip" : "chip uploading"}>
            <span>{name}</span>
            {item.done ? (
              <>
                <span className="chip-done" aria-hidden="true">
                  ✓
                </span>
                <span className="visually-hidden">attached</span>
              </>
            ) : (
              <progress max={1} value={item.share} aria-label={`Uploading ${name}`} />
            )}
          </li>
        )),
      )}
    </ul>
  );
}
