import { useState } from "react";
import type { AppInfo } from "../../api/client";

/** Longer text is cut to this many characters (an emoji counts as one). */
const MAX_LETTERS = 3;

function isImageAddress(avatar: string): boolean {
  return /^(https?:\/\/|data:image\/|\/)/i.test(avatar);
}

function letters(text: string): string[] {
  const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return Array.from(segmenter.segment(text), (part) => part.segment);
}

/** An app's avatar, next to its name (so hidden from screen readers): its image when the avatar
 *  is an address, its text when it is an emoji or a few letters, else the name's first letter
 *  (also when the image does not load: the page's policy loads images from this server only). */
export function AppAvatar({ app, size }: { app: AppInfo; size: "small" | "large" }) {
  const [broken, setBroken] = useState(false);
  const avatar = app.avatar?.trim() ?? "";
  if (avatar && isImageAddress(avatar) && !broken) {
    return (
      <img
        className={`app-avatar ${size}`}
        src={avatar}
        alt=""
        onError={() => setBroken(true)}
      />
    );
  }
  const own = avatar && !isImageAddress(avatar) ? letters(avatar).slice(0, MAX_LETTERS) : null;
  const initial = letters(app.display_name || app.name)[0] ?? "?";
  const text = own ? own.join("") : initial.toUpperCase();
  const wordy = own !== null && own.length > 1;
  return (
    <span className={`app-avatar ${size}${wordy ? " wordy" : ""}`} aria-hidden="true">
      {text}
    </span>
  );
}
