import { useEffect, useRef } from "react";

/** The chat's keyboard shortcuts, as the shortcuts dialog lists them. Ctrl is ⌘ on a Mac. */
export const SHORTCUTS: { keys: string; what: string }[] = [
  { keys: "Enter", what: "Send the message" },
  { keys: "Shift+Enter", what: "New line in the message" },
  { keys: "Esc", what: "Stop the answer being written" },
  { keys: "Shift+Esc", what: "Go to the message box" },
  { keys: "Ctrl+Shift+O", what: "New chat" },
  { keys: "Ctrl+K", what: "Search chats" },
  { keys: "Ctrl+/", what: "Show these shortcuts" },
];

interface Actions {
  newChat: () => void;
  searchChats: () => void;
  focusMessage: () => void;
  /** Stops the answer being written; false when none is. */
  stop: () => boolean;
  showShortcuts: () => void;
}

/** Listens for the chat's shortcuts on the whole page while the chat is open. */
export function useShortcuts(actions: Actions) {
  const current = useRef(actions);
  current.current = actions;
  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.defaultPrevented || event.isComposing) return;
      const act = current.current;
      const command = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      let handled = true;
      if (command && event.shiftKey && key === "o") act.newChat();
      else if (command && !event.shiftKey && key === "k") act.searchChats();
      else if (command && key === "/") act.showShortcuts();
      else if (event.key === "Escape" && event.shiftKey) act.focusMessage();
      else if (event.key === "Escape" && !command) handled = act.stop();
      else handled = false;
      if (handled) event.preventDefault();
    }
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
}
