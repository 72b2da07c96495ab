// Types for parse-prometheus-text-format 1.1.1 (a dev dependency, used by tests only), which ships none.
declare module "parse-prometheus-text-format" {
  /** One series; values stay strings as in the exposition. Histograms and summaries are folded per series. */
  export interface ParsedMetric {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }

  export interface ParsedFamily {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: ParsedMetric[];
  }

  /** Throws (InvalidLineError) on a malformed HELP or TYPE line. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
