import { DeleteButton } from "../AdminTable";
import { formatBytes } from "./format";
import type { Instance } from "./types";

const STATE_LABELS: Record<Instance["state"], string> = {
  loading: "Loading",
  ready: "Ready",
  unloading: "Unloading",
  failed: "Failed",
};

/** A runner's model instances: state (with loading progress), load, memory; Unload. */
export function InstanceList(props: {
  instances: Instance[];
  onUnload: (instance: Instance) => void;
}) {
  if (props.instances.length === 0) return <p className="hint">No models loaded.</p>;
  return (
    <ul className="instances">
      {props.instances.map((instance) => (
        <InstanceItem
          key={instance.id}
          instance={instance}
          onUnload={() => props.onUnload(instance)}
        />
      ))}
    </ul>
  );
}

function InstanceItem({ instance, onUnload }: { instance: Instance; onUnload: () => void }) {
  return (
    <li className="instance">
      <div className="instance-head">
        <code className="instance-model">{instance.model}</code>
        <span className={`badge ${instance.state}`}>{STATE_LABELS[instance.state]}</span>
        <DeleteButton
          label={`Unload ${instance.model} on ${instance.runner}`}
          confirm={`Unload ${instance.model} from ${instance.runner}? It loads again when needed.`}
          disabled={instance.state === "unloading"}
          onDelete={onUnload}
        >
          Unload
        </DeleteButton>
      </div>
      {instance.state === "loading" && (
        <progress
          className="instance-progress"
          aria-label={`Loading ${instance.model}`}
          max={1}
          value={instance.progress}
        />
      )}
      {instance.message && <div className="hint instance-message">{instance.message}</div>}
      <div className="hint">
        {instance.active}/{instance.concurrency} busy · {formatBytes(instance.memory_bytes)} ·{" "}
        {instance.served} served
      </div>
    </li>
  );
}
