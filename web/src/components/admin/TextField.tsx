import type { InputHTMLAttributes, ReactNode } from "react";

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, "id" | "value" | "onChange">;

/** One labelled input of an admin form's `.fields`; `hint` is shown under it and describes it.
 *  Any other input attribute (`required`, `type`, `autoComplete`, …) is passed on. */
export function TextField({
  id,
  label,
  hint,
  value,
  onChange,
  ...input
}: InputProps & {
  id: string;
  label: ReactNode;
  hint?: ReactNode;
  value: string;
  onChange: (value: string) => void;
}) {
  const hintId = `${id}-hint`;
  return (
    <div>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        aria-describedby={hint ? hintId : undefined}
        {...input}
        value={value}
        onChange={(event) => onChange(event.target.value)}
      />
      {hint && (
        <span id={hintId} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}
