import { useRef, useState, type DragEvent } from "react";
import { ApiError, isAbort, messageOf } from "../../api/client";
import { uploadFiles } from "../../api/upload";
import type { Credentials } from "../../auth";
import { ErrorMessage } from "../ErrorMessage";

interface Upload {
  id: number;
  names: string[];
  share: number;
}

interface Props {
  kbId: string;
  credentials: Credentials;
  onUploaded: (what: string) => void;
  onUnauthorized: (message: string) => void;
}

/** Files dropped here or picked with the button are uploaded at once (several at a time),
 *  each batch with its progress. */
export function FileDrop({ kbId, credentials, onUploaded, onUnauthorized }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const nextId = useRef(1);
  const [over, setOver] = useState(false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [error, setError] = useState<string | null>(null);

  async function upload(files: File[]) {
    if (files.length === 0) return;
    setError(null);
    const id = nextId.current++;
    const names = files.map((file) => file.name);
    setUploads((now) => [...now, { id, names, share: 0 }]);
    const progress = (share: number) =>
      setUploads((now) => now.map((item) => (item.id === id ? { ...item, share } : item)));
    try {
      await uploadFiles(credentials, kbId, files, progress);
      onUploaded(`Uploaded ${listed(names)}.`);
    } catch (failure) {
      if (failure instanceof ApiError && failure.unauthorized) onUnauthorized(failure.message);
      else if (!isAbort(failure)) {
        setError(`Could not upload ${listed(names)}: ${messageOf(failure)}`);
      }
    } finally {
      setUploads((now) => now.filter((item) => item.id !== id));
    }
  }

  function dragging(event: DragEvent<HTMLDivElement>) {
    if (!Array.from(event.dataTransfer.types).includes("Files")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    setOver(true);
  }

  function left(event: DragEvent<HTMLDivElement>) {
    // Leaving for a child of the zone is not leaving the zone.
    if (event.relatedTarget instanceof Node && event.currentTarget.contains(event.relatedTarget)) {
      return;
    }
    setOver(false);
  }

  function dropped(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    setOver(false);
    void upload(Array.from(event.dataTransfer.files));
  }

  return (
    <div
      className={over ? "dropzone over" : "dropzone"}
      role="group"
      aria-labelledby="kb-upload-title"
      aria-describedby="kb-upload-hint"
      onDragEnter={dragging}
      onDragOver={dragging}
      onDragLeave={left}
      onDrop={dropped}
    >
      <h3 id="kb-upload-title">Upload files</h3>
      <p id="kb-upload-hint" className="hint">
        Drop files here, or choose them: PDF, Word (DOCX), PowerPoint (PPTX), HTML, Markdown,
        text or CSV. Several at once are fine.
      </p>
      <label htmlFor="kb-files" className="visually-hidden">
        Files to upload
      </label>
      <input
        id="kb-files"
        ref={input}
        type="file"
        multiple
        className="visually-hidden"
        tabIndex={-1}
        onChange={(event) => {
          const files = Array.from(event.target.files ?? []);
          event.target.value = "";
          void upload(files);
        }}
      />
      <button type="button" onClick={() => input.current?.click()}>
        Choose files…
      </button>
      {uploads.length > 0 && (
        <ul className="uploads" aria-live="polite">
          {uploads.map((item) => (
            <li key={item.id}>
              <span className="upload-names">Uploading {listed(item.names)}</span>
              <progress
                max={1}
                value={item.share}
                aria-label={`Uploading ${listed(item.names)}`}
              />
              <span className="hint">{Math.round(item.share * 100)}%</span>
            </li>
          ))}
        </ul>
      )}
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
    </div>
  );
}

/** "a.pdf", "a.pdf and b.md", "a.pdf, b.md and 3 more". */
function listed(names: string[]): string {
  if (names.length <= 2) return names.join(" and ");
  return `${names.slice(0, 2).join(", ")} and ${names.length - 2} more`;
}
