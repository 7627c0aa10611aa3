// Builds the UI into the Python package (served by the control plane at `/`).
// `npm run dev` serves it with hot reload and proxies the API to a running Homeport
// (HOMEPORT_API_URL, default http://127.0.0.1:8080, i.e. `make run`).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const api = process.env.HOMEPORT_API_URL ?? "http://127.0.0.1:8080";
const apiPaths = ["/v1", "/api", "/healthz", "/readyz", "/docs", "/openapi.json"];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/homeport/web_dist",
    emptyOutDir: true,
  },
  server: {
    proxy: Object.fromEntries(apiPaths.map((path) => [path, { target: api }])),
  },
});
