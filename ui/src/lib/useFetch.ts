// Data fetching next to the component that shows it: one request per key,
// the previous answer kept while the next one loads, errors kept as values.
import { useEffect, useState } from "react";

export interface Fetched<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
}

export function useFetch<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Fetched<T> {
  const [state, setState] = useState<{ key: string | null; data?: T; error?: Error }>({ key: null });
  useEffect(() => {
    if (key === null) return;
    const controller = new AbortController();
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key, data });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((s) => ({ key, data: s.data, error: error instanceof Error ? error : new Error(String(error)) }));
      },
    );
    return () => controller.abort();
    // `load` is recreated every render; the key says when to fetch again
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const answered = state.key === key;
  return { data: state.data, error: answered ? state.error : undefined, loading: key !== null && !answered };
}
