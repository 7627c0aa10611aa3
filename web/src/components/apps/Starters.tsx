/** How many of an app's conversation starters are offered. */
export const MAX_STARTERS = 3;

/** An app's conversation starters as buttons; picking one starts a chat with it. */
export function Starters(props: { starters: string[]; onPick: (starter: string) => void }) {
  const { starters, onPick } = props;
  const shown = starters.slice(0, MAX_STARTERS);
  if (!shown.length) return null;
  return (
    <ul className="starters" aria-label="Conversation starters">
      {shown.map((starter) => (
        <li key={starter}>
          <button type="button" className="starter" onClick={() => onPick(starter)}>
            {starter}
          </button>
        </li>
      ))}
    </ul>
  );
}
