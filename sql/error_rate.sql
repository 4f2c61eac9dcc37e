-- The error rate of the runs that finished in the last day: the documents that ended with an error over the
-- documents classified (skipped ones left out). The alert in resources/dashboard.yml fires on error_rate.
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc).
SELECT count(*) AS runs,
       coalesce(sum(errored_docs), 0) AS errored_docs,
       coalesce(sum(succeeded_docs + errored_docs), 0) AS classified_docs,
       coalesce(try_divide(sum(errored_docs), sum(succeeded_docs + errored_docs)), 0.0) AS error_rate
FROM IDENTIFIER(:tables || '.runs')
WHERE finished_at >= current_timestamp() - INTERVAL 1 DAY
