// What the Node chat apps share: the ids the harness hands them, the questions,
// the parcel tool's answer, and the OpenTelemetry JS SDK exporting OTLP/HTTP
// (protobuf) to $OTEL_EXPORTER_OTLP_ENDPOINT.
import { readFileSync } from "node:fs";

import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

const conversation = JSON.parse(readFileSync(new URL("../conversation.json", import.meta.url), "utf8"));

export const QUESTIONS = conversation.questions;
export const TOOL = conversation.tool;
export const PROJECT = process.env.OI_PROJECT;
export const SESSION_ID = process.env.OI_SESSION_ID;
export const USER_ID = process.env.OI_USER_ID;
export const OPENAI_BASE_URL = process.env.OPENAI_BASE_URL;
export const MODEL = "gpt-4o-mini";
export const SYSTEM_PROMPT = "You are the support assistant of a parcel delivery company. Answer briefly.";

export function trackParcel({ parcel_id }) {
  return TOOL.result;
}

/** The global tracer provider (AsyncLocalStorage context), exporting through
 * `wrap(exporter)` when given (a processor that exports), else a batch processor. */
export function tracerProvider(wrap) {
  const exporter = new OTLPTraceExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": PROJECT, "openinference.project.name": PROJECT }),
    spanProcessors: [wrap ? wrap(exporter) : new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return provider;
}
