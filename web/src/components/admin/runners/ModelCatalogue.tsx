import { useState, type FormEvent } from "react";
import { formatBytes } from "./format";
import type { CatalogueModel } from "./types";

interface Actions {
  onWarm: (model: CatalogueModel) => void;
  onPin: (model: CatalogueModel, minInstances: number) => Promise<boolean>;
  onDelete: (model: CatalogueModel) => void;
}

/** The model catalogue: what runners can load, how many are kept warm, what is loaded. */
export function ModelCatalogue(props: { models: CatalogueModel[] } & Actions) {
  if (props.models.length === 0) return <p className="hint">No models in the catalogue.</p>;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Model catalogue table">
      <table>
        <caption className="visually-hidden">Model catalogue</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Engine</th>
            <th scope="col">Type</th>
            <th scope="col" className="number">Memory</th>
            <th scope="col">Kept warm</th>
            <th scope="col">Instances</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.models.map((model) => (
            <ModelRow key={model.name} model={model} {...props} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ModelRow({ model, onWarm, onPin, onDelete }: { model: CatalogueModel } & Actions) {
  const builtin = model.source === "builtin";
  return (
    <tr>
      <th scope="row">
        {model.name}
        <div className="hint">
          <code>{model.id}</code>
          {builtin && " · built-in"}
        </div>
      </th>
      <td>{model.engine}</td>
      <td>{model.type}</td>
      <td className="number">{formatBytes(model.memory_bytes)}</td>
      <td>
        {builtin ? model.min_instances : <PinControl model={model} onPin={onPin} />}
      </td>
      <td>
        {model.instances.length === 0
          ? "—"
          : model.instances.map((instance) => (
              <div key={instance.id}>
                {instance.state} on {instance.runner}
              </div>
            ))}
      </td>
      <td className="row-actions">
        <button
          type="button"
          className="secondary"
          aria-label={`Warm ${model.name}`}
          onClick={() => onWarm(model)}
        >
          Warm
        </button>
        {!builtin && (
          <button
            type="button"
            className="danger"
            aria-label={`Delete ${model.name}`}
            onClick={() => onDelete(model)}
          >
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}

/** How many instances to keep loaded (pinned); 0 unpins. Refreshes leave an edit alone. */
function PinControl(props: {
  model: CatalogueModel;
  onPin: (model: CatalogueModel, minInstances: number) => Promise<boolean>;
}) {
  const { model } = props;
  const [draft, setDraft] = useState<string | null>(null);
  const value = draft ?? String(model.min_instances);
  const id = `pin-${model.name}`;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const wanted = Number(value);
    if (!Number.isInteger(wanted) || wanted < 0) return;
    if (await props.onPin(model, wanted)) setDraft(null);
  }

  return (
    <form className="pin-control" onSubmit={submit}>
      <label htmlFor={id} className="visually-hidden">
        Instances of {model.name} kept warm
      </label>
      <input
        id={id}
        type="number"
        min="0"
        max="64"
        value={value}
        onChange={(event) => setDraft(event.target.value)}
      />
      <button
        type="submit"
        className="secondary"
        aria-label={`Pin ${model.name}`}
        disabled={value === String(model.min_instances)}
      >
        Pin
      </button>
      {model.min_instances > 0 && (
        <button
          type="button"
          className="quiet"
          aria-label={`Unpin ${model.name}`}
          onClick={() => void props.onPin(model, 0)}
        >
          Unpin
        </button>
      )}
    </form>
  );
}
