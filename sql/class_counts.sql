-- How many documents each class got as their top class, per project and deployment, with the mean confidence.
-- A null category is a multi-label document with no class above the threshold.
-- Parameters: :tables = the catalog.schema given to --tables (e.g. main.ctc).
SELECT project_name,
       deployment_name,
       category,
       count(*) AS documents,
       round(avg(confidence), 3) AS mean_confidence
FROM IDENTIFIER(:tables || '.results')
WHERE error_code IS NULL
GROUP BY project_name, deployment_name, category
ORDER BY project_name, deployment_name, documents DESC, category
