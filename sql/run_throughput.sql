-- Throughput and cost per run, newest first: documents classified per second, the service calls made, and the
-- text records billed (the Language service bills one per started 1,000 characters of each document).
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc).
SELECT run_id,
       project_name,
       deployment_name,
       started_at,
       duration_seconds,
       succeeded_docs + errored_docs AS classified_docs,
       round(try_divide(succeeded_docs + errored_docs, duration_seconds), 1) AS docs_per_second,
       submits + polls AS calls,
       text_records,
       round(try_divide(text_records, succeeded_docs + errored_docs), 2) AS text_records_per_doc
FROM IDENTIFIER(:tables || '.runs')
WHERE finished_at IS NOT NULL
ORDER BY started_at DESC
