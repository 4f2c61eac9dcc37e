-- Documents without a prediction, by error code (NullDocument, EmptyDocument, DocumentTooLarge, the service's
-- per-document codes, JobFailed, JobExpired, SubmitOutcomeUnknown, RequestRejected, MissingResult).
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc).
SELECT project_name,
       deployment_name,
       error_code,
       count(*) AS documents,
       min(error_message) AS example_message,
       max(classified_at) AS last_seen
FROM IDENTIFIER(:tables || '.results')
WHERE error_code IS NOT NULL
GROUP BY project_name, deployment_name, error_code
ORDER BY documents DESC, error_code
