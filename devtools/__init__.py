"""Developer tools beside the local API: the OpenAPI generator, the dashboard screenshot and
the browser it drives, the real `sam local` orchestration (Docker and the offline image), and
the access-log generator the walk-through, the tests and the benchmark use."""
