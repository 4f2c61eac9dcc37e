-- Each submission's latest state: `jobs` is an event log (a row when the job id is committed, one per later
-- state), and a submission's row with the latest updated_at is its state. The view `job_states` is this query.
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc).
SELECT * EXCEPT (rank)
FROM (
  SELECT j.*,
         row_number() OVER (PARTITION BY j.batch_id, j.job_id, j.attempts ORDER BY j.updated_at DESC) AS rank
  FROM IDENTIFIER(:tables || '.jobs') j
)
WHERE rank = 1
ORDER BY submitted_at DESC, batch_id
