-- The runs, newest first: status, how long, what they did to the corpus and what they cost in calls.
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc).
SELECT run_id,
       status,
       project_name,
       deployment_name,
       kind,
       started_at,
       finished_at,
       duration_seconds,
       input_docs,
       skipped_docs,
       succeeded_docs,
       errored_docs,
       submits,
       polls,
       throttled,
       retries,
       text_records,
       error
FROM IDENTIFIER(:tables || '.runs')
ORDER BY started_at DESC
