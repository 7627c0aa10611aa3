import { useState, type FormEvent } from "react";
import { AdminTable, DeleteButton } from "../AdminTable";
import { formatBytes } from "./format";
import type { CatalogueModel } from "./types";

interface Actions {
  onWarm: (model: CatalogueModel) => void;
  onPin: (model: CatalogueModel, minInstances: number) => Promise<boolean>;
  onDelete: (model: CatalogueModel) => void;
}

/** The model catalogue: what runners can load, how many are kept warm, what is loaded. */
export function ModelCatalogue(props: { models: CatalogueModel[] } & Actions) {
  return (
    <AdminTable
      label="Model catalogue"
      columns={[
        "Name",
        "Engine",
        "Type",
        { name: "Memory", number: true },
        "Kept warm",
        "Instances",
        "Actions",
      ]}
      items={props.models}
      empty="No models in the catalogue."
      row={(model) => <ModelRow key={model.name} model={model} {...props} />}
    />
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
          <DeleteButton
            label={`Delete ${model.name}`}
            confirm={`Delete the model “${model.name}”? Its instances are unloaded.`}
            onDelete={() => onDelete(model)}
          >
            Delete
          </DeleteButton>
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
