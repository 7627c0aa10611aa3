import { useRef, useState } from "react";
import { ApiError, isAbort, messageOf } from "../api/client";
import { attachFiles } from "../api/upload";
import type { Credentials } from "../auth";

/** Files attached to the message being composed: one entry per upload (several files at
 *  once), with its progress until the server has them. */
export interface Attachment {
  id: number;
  sessionId: string | null;
  names: string[];
  share: number;
  done: boolean;
}

interface Options {
  credentials: Credentials;
  /** The open chat's session id, the chat getting one first when it has none. */
  ensureSession: () => Promise<string>;
  report: (error: unknown) => void;
}

/** Attaching files to a chat (`POST /api/v1/sessions/{id}/files`); the next answer waits for
 *  them and is grounded in them. Those of another chat than `sessionId` are not shown. */
export function useAttachments(sessionId: string | null, options: Options) {
  const [all, setAll] = useState<Attachment[]>([]);
  const nextId = useRef(1);
  const attachments = all.filter((a) => a.sessionId === null || a.sessionId === sessionId);

  const change = (id: number, values: Partial<Attachment>) =>
    setAll((now) => now.map((a) => (a.id === id ? { ...a, ...values } : a)));

  async function attach(files: File[]) {
    if (files.length === 0) return;
    const id = nextId.current++;
    const names = files.map((file) => file.name);
    setAll((now) => [...now, { id, sessionId: null, names, share: 0, done: false }]);
    try {
      const session = await options.ensureSession();
      change(id, { sessionId: session });
      await attachFiles(options.credentials, session, files, (share) => change(id, { share }));
      change(id, { share: 1, done: true });
    } catch (failure) {
      setAll((now) => now.filter((a) => a.id !== id));
      if (failure instanceof ApiError && failure.unauthorized) options.report(failure);
      else if (!isAbort(failure)) {
        options.report(new Error(`Could not attach ${names.join(", ")}: ${messageOf(failure)}`));
      }
    }
  }

  /** The uploaded attachments of the open chat, which leave the composer with the message
   *  being sent. */
  function take(): Attachment[] {
    const taken = attachments.filter((a) => a.done);
    setAll((now) => now.filter((a) => !taken.includes(a)));
    return taken;
  }

  /** Back to the composer: the message they went with was refused. */
  function putBack(taken: Attachment[]) {
    setAll((now) => [...taken, ...now]);
  }

  return { attachments, uploading: attachments.some((a) => !a.done), attach, take, putBack };
}
