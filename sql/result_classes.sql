-- One row per (document, class): every class the service returned for a document, its confidence, and
-- whether it is the document's top class. Error rows have no classes and are left out.
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc).
SELECT r.doc_id,
       r.project_name,
       r.deployment_name,
       c.category,
       c.confidence,
       c.category = r.category AS is_top,
       r.run_id,
       r.job_id,
       r.classified_at
FROM IDENTIFIER(:tables || '.results') AS r
LATERAL VIEW explode(r.classes) e AS c
WHERE r.error_code IS NULL
ORDER BY r.doc_id, c.confidence DESC
