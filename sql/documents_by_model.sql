-- The documents whose current result was produced by a given model (the model label it was trained as),
-- e.g. to find what a redeployment will classify again.
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc); :model_label = the model label.
SELECT doc_id,
       project_name,
       deployment_name,
       model_label,
       category,
       confidence,
       error_code,
       run_id,
       classified_at
FROM IDENTIFIER(:tables || '.results')
WHERE model_label = :model_label
ORDER BY project_name, deployment_name, doc_id
