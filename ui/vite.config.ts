import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local `oi-sessions serve`.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { "/v1": "http://127.0.0.1:6006", "/healthz": "http://127.0.0.1:6006" } },
  test: { globals: true, environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"] },
});
