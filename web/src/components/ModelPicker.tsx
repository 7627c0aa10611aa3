import type { Model } from "../api/client";

interface Props {
  models: Model[] | null;
  value: string;
  onChange: (id: string) => void;
  disabled?: boolean;
}

export function ModelPicker({ models, value, onChange, disabled }: Props) {
  return (
    <div className="model-picker">
      <label htmlFor="model">Model</label>
      <select
        id="model"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        disabled={disabled || !models?.length}
      >
        {models === null && <option value="">Loading…</option>}
        {models?.length === 0 && <option value="">No models</option>}
        {models?.map((model) => (
          <option key={model.id} value={model.id}>
            {model.id}
            {model.homeport?.kind === "base" ? " (base)" : ""}
          </option>
        ))}
      </select>
    </div>
  );
}
