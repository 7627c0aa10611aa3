import { appNameOfModel, type AppInfo, type Model } from "../api/client";

interface Props {
  models: Model[] | null;
  /** The app a model id names (apps are listed apart, by their display names). */
  appOf: (model: string) => AppInfo | null;
  value: string;
  onChange: (id: string) => void;
  disabled?: boolean;
}

export function ModelPicker({ models, appOf, value, onChange, disabled }: Props) {
  const plain = models?.filter((model) => appNameOfModel(model.id) === null) ?? [];
  const apps = models?.filter((model) => appNameOfModel(model.id) !== null) ?? [];

  function option(model: Model) {
    const app = appOf(model.id);
    return (
      <option key={model.id} value={model.id}>
        {app?.display_name ? `${app.display_name} (${model.id})` : model.id}
        {model.homeport?.kind === "base" ? " (base)" : ""}
      </option>
    );
  }

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
        {apps.length === 0 ? (
          plain.map(option)
        ) : (
          <>
            {plain.length > 0 && <optgroup label="Models">{plain.map(option)}</optgroup>}
            <optgroup label="Apps">{apps.map(option)}</optgroup>
          </>
        )}
      </select>
    </div>
  );
}
